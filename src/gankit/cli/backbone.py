"""Commands for the feature backbones behind FID & co.: `gankit backbone train`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

backbone_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                           help="The small domain classifiers whose features FID, KID, precision/recall use.")
console = Console()


@backbone_app.command(epilog="""Examples:

* `gankit backbone train mnist --data-root ../shared/data` : the shipped MNIST backbone, again

* `gankit backbone train all --data-root ../shared/data --threads 1` : what produced the shipped weights

* `gankit backbone train digits --set seed=1 --out /tmp/bb` : another seed, into a scratch folder

* `gankit backbone train mnist --set holdout=5000` : recipe search: score on 5,000 held-out training images, write nothing

* `gankit backbone train --resume runs/backbone-mnist-20261204-101500` : after Ctrl-C
""")
def train(
    recipe: Annotated[Optional[str], typer.Argument(help="mnist, fashion-mnist, digits, all, or a YAML path.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), e.g. "
                                                      "--set epochs=5.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (results can differ in the last "
                                                        "bits between thread counts).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Weights folder (default: the package's, where the "
                                                     "shipped backbones are).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the training in this run folder.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a feature backbone and write its weights and record (DATASET.safetensors + DATASET.json)."""
    from gankit.config import override, read_run_config
    from gankit.errors import GankitError
    from gankit.metrics.backbones import WEIGHTS_DIR
    from gankit.metrics.train_backbones import RECIPES_DIR, BackboneConfig, load_backbone_config, save_backbone, \
        train_backbone

    overrides = list(set_ or []) + ([override("data_root", str(data_root))] if data_root else [])
    if resume:
        if recipe:
            raise GankitError("--resume RUN continues that run: give no recipe with it")
        configs = [read_run_config(resume, BackboneConfig, overrides)]
    elif recipe is None:
        raise GankitError("name the backbone recipe (mnist, fashion-mnist, digits, all or a YAML file), or --resume RUN")
    else:
        names = [p.stem for p in sorted(RECIPES_DIR.glob("*.yaml"))] if recipe == "all" else [recipe]
        configs = [load_backbone_config(name, overrides) for name in names]
    for cfg in configs:
        trained = train_backbone(cfg, run_dir=resume, resume=resume is not None, threads=threads, progress=progress)
        r = trained.record
        if cfg.holdout:
            console.print(f"{cfg.dataset}: held-out accuracy {100 * r['holdout_accuracy']:.2f} % "
                          f"({r['holdout_errors']} errors / {cfg.holdout}), {r['epochs']} epochs, "
                          f"{r['train_seconds']:.0f} s; no weights written")
            continue
        json_path = save_backbone(trained, out or WEIGHTS_DIR)
        mark = "" if r["test_accuracy"] >= r["target_accuracy"] else \
            f"  [red]below the target {100 * r['target_accuracy']:.1f} %"
        console.print(f"{cfg.dataset}: test accuracy {100 * r['test_accuracy']:.2f} % "
                      f"({r['test_errors']} errors / {r['test_size']}), {r['epochs']} epochs, "
                      f"{r['train_seconds']:.0f} s -> {json_path}{mark}")


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    app.add_typer(backbone_app, name="backbone")
