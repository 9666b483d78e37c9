"""Commands for private synthetic data: `gankit synth fit|sample|report`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
