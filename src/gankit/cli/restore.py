"""Commands for image restoration with an untrained network: `gankit restore inpaint | denoise | superres`
(being built)."""

from __future__ import annotations

import typer

restore_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                          help="Deep Image Prior: restore one photo with an untrained network, beside the "
                               "classical tools.")


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    if restore_app.registered_commands:
        app.add_typer(restore_app, name="restore")
