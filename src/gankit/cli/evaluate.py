"""Commands for measuring GANs: `gankit evaluate`, `gankit report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()   # the commands are registered on the main app by register()
console = Console()


@app.command(epilog="""Examples:

* `gankit evaluate runs/dcgan_mnist-20261124-101500 --data-root ../shared/data` : 10,000 samples, FID & co., Parzen

* `gankit evaluate runs/quickstart-20261124-101500 -n 1000` : faster, noisier

* `gankit evaluate RUN/checkpoints/ckpt-0002000.json --no-parzen`

* `gankit evaluate runs/sngan_hinge_cifar10-... --inception ~/pt_inception-2015-12-05-6726825d.pth --device cuda`
""")
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A run folder or a ckpt-*.json / .safetensors file.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples (and of real images for the floors).")] = 10_000,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/, fashion-mnist/, ...")] = None,
    seed: Annotated[int, typer.Option(help="Noise seed (also picks the training subset for the floors).")] = 0,
    parzen: Annotated[Optional[bool], typer.Option("--parzen/--no-parzen", show_default=False,
                                                   help="Parzen log-likelihood (default: on for MNIST and "
                                                        "Fashion-MNIST when n >= 1000).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    progress: Annotated[bool, typer.Option(help="Show what is being computed.")] = True,
    inception: Annotated[Optional[Path], typer.Option(help="FID Inception-v3 weights for CIFAR-10 (.pth or "
                                                      ".safetensors, or their folder); default $GANKIT_INCEPTION, "
                                                      "then DATA_ROOT/inception/ (docs/inception.md).")] = None,
) -> None:
    """Measure a generator against held-out real data; write metrics.json and the run's report.html."""
    from rich.markup import escape
    from gankit.evaluate import evaluate as run_evaluation
    from gankit.report import copying_verdict, floor_label, metric_rows

    metrics = run_evaluation(checkpoint, n=n, data_root=data_root, seed=seed, device=device, parzen=parzen,
                             progress=progress, inception=inception)
    table = Table("metric", "value", floor_label(metrics),
                  title=f"{metrics['dataset']}, step {metrics['step']}, {metrics['n']} samples")
    for row in metric_rows(metrics):
        table.add_row(row.metric, row.value, row.floor)
    console.print(table)
    copying = (metrics.get("memorization") or {}).get("copying")
    if copying:
        console.print(copying_verdict(copying["generated"].get("z_u")))
    by_reason: dict[str, list[str]] = {}
    for key, reason in (metrics.get("skipped") or {}).items():
        by_reason.setdefault(reason, []).append(key)
    for reason, keys in by_reason.items():
        console.print(f"[dim]not computed: {', '.join(keys)}: {escape(reason)}")
    run_dir = Path(metrics["run_dir"])
    console.print(f"wrote [cyan]{run_dir / 'metrics.json'}[/] and [cyan]{run_dir / 'report.html'}")


@app.command(epilog="""Examples:

* `gankit report runs/dcgan_mnist-20261124-101500` : writes RUN/report.html

* `gankit report RUN -o ~/Desktop/dcgan.html`
""")
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="HTML file to write "
                                                   "(default: RUN/report.html).")] = None,
) -> None:
    """Render a run folder as one self-contained HTML page (opens offline, no scripts)."""
    from gankit.report import render_report
    console.print(f"wrote [cyan]{render_report(run_dir, output)}")


def register(main: typer.Typer) -> None:
    """Add this module's commands to the ``gankit`` app."""
    for command in app.registered_commands:
        main.registered_commands.append(command)
