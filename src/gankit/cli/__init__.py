"""The ``gankit`` command. Thin: each module parses one command group's arguments and calls the library.

    cli/train.py      train, sample, info, recipes, download
    cli/evaluate.py   evaluate, report
    cli/semisup.py    semisup, classify
    cli/attacks.py    attack, robust-train
    cli/synth.py      synth fit | sample | report
    cli/backbone.py   backbone train
    cli/fair.py       fair fit | report
    cli/restore.py    restore inpaint | denoise | superres
    cli/provenance.py keys init, verify
    cli/translate.py  translate train | apply
    cli/augment.py    augment

Errors caused by the user's input (GankitError) print one line and exit with status 2; a run
stopped before its last step (Ctrl-C, SIGTERM, a time budget) exits with status 3.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gankit import __version__
from gankit.errors import GankitError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  rich_markup_mode="markdown", context_settings={"help_option_names": ["-h", "--help"]},
                  help="gankit: train GANs and measure them honestly.")


def _version(value: bool) -> None:
    if value:
        print(f"gankit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """gankit: train GANs and measure them honestly."""


def _register() -> None:
    from gankit.cli import (attacks, augment, backbone, detect, evaluate, fair, provenance, restore, semisup, synth,
                            train, translate)
    for module in (train, evaluate, semisup, attacks, synth, backbone, translate, fair, restore, provenance, detect,
                   augment):
        module.register(app)


_register()


def main() -> None:
    try:
        app()
    except GankitError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
