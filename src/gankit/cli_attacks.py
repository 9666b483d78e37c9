"""Commands for adversarial examples: `gankit attack`, `gankit robust-train`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
