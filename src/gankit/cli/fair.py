"""Commands for fairness through an adversary: `gankit fair fit | report` (being built)."""

from __future__ import annotations

import typer

fair_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                       help="Predictions that do not give away a sensitive attribute: adversarial debiasing and "
                            "fair representations.")


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    if fair_app.registered_commands:
        app.add_typer(fair_app, name="fair")
