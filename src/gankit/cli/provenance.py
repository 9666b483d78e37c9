"""Commands for signed provenance: `gankit keys init`, `gankit verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

keys_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                       help="The keys that sign generated images (C2PA Content Credentials).")
console = Console()


@keys_app.command(epilog="""Examples:

* `gankit keys init` : a local CA and a signing certificate in ~/.config/gankit/keys

* `gankit keys init --dir ./keys --force` : somewhere else, replacing what is there
""")
def init(
    dir_: Annotated[Optional[Path], typer.Option("--dir", help="Where to keep them (default: $GANKIT_KEYS, else "
                                                             "~/.config/gankit/keys).")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing keys.")] = False,
) -> None:
    """Make a local certificate authority and the signing certificate it issues (private keys mode 0600)."""
    from gankit.provenance import init_keys
    paths = init_keys(dir_, force=force)
    console.print(f"signing certificate [cyan]{paths.cert}[/] and key [cyan]{paths.key}[/]; verify against the "
                  f"local CA with [cyan]gankit verify FILE --trust {paths.ca_cert}")


def verify(
    files: Annotated[list[Path], typer.Argument(help="Images to check (PNG, JPEG, ...).")],
    trust: Annotated[Optional[Path], typer.Option(help="PEM file of CA certificates whose signers count as "
                                                       "Trusted (e.g. the ca.pem of `gankit keys init`).")] = None,
) -> None:
    """Check each file's C2PA manifest: Trusted, Valid (signer not trusted), Invalid or No provenance.

    Exits with status 1 when any file is Invalid. Re-encoding an image strips its manifest:
    provenance proves origin where present; its absence proves nothing.
    """
    from gankit.provenance import verify_file
    invalid = 0
    for path in files:
        verdict = verify_file(path, trust)
        invalid += verdict.state == "Invalid"
        colour = {"Trusted": "green", "Valid": "yellow", "Invalid": "red"}.get(verdict.state, "dim")
        console.print(f"[{colour}]{escape(verdict.line())}[/]")
        if verdict.assertion:
            fields = ", ".join(f"{k} {v}" for k, v in verdict.assertion.items())
            console.print(f"  gankit: {escape(fields)}" + (f"; signed by {escape(verdict.signer)}" if verdict.signer
                                                          else ""))
    if invalid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``gankit`` app."""
    app.add_typer(keys_app, name="keys")
    app.command(epilog="""Examples:

* `gankit verify samples.png` : Valid when the signature holds (signer untrusted without --trust)

* `gankit verify out/*.png --trust ~/.config/gankit/keys/ca.pem` : Trusted for images signed by your keys
""")(verify)
