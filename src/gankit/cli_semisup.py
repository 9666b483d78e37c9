"""Commands for semi-supervised GAN: `gankit semisup`, `gankit classify`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
