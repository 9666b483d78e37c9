"""`gankit augment`: does a GAN trained on a few labels make better training data?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console()

EPILOG = """Examples:

* `gankit augment --dataset fashion-mnist --labels 100 --seed 0 --data-root ../shared/data`

* `gankit augment --folder ~/leaves --labels 50 --set image_size=32` : one sub-folder per class; tested on
the images outside the labelled subset (or `--set test_folder=~/leaves_test`)

* `gankit augment --dataset mnist --set arms=real,classic,classic+gan,classic+gan-filtered` : also the
arm whose generated images the real arm's classifier agrees with (`filter_confidence`, 0.9)

* `gankit augment --resume runs/augment-fashion-mnist-100-s0-20261204-101500` : after Ctrl-C

Every arm trains the same small CNN for `steps` steps on batches of `batch_size`: real only; real with
random affine (classic); half real, half generated (`gan_ratio`); classic + generated; generated only
(the classification accuracy score). Each arm's classifier is a checkpoint in RUN/arms/ARM/, read by
`gankit attack RUN/arms/ARM` and `gankit classify RUN/arms/ARM image.png`.
"""


def augment(
    dataset: Annotated[Optional[str], typer.Option(help="mnist or fashion-mnist (default: the recipe's).")] = None,
    folder: Annotated[Optional[Path], typer.Option(help="An image folder with one sub-folder per class, "
                                                        "instead of --dataset.")] = None,
    labels: Annotated[Optional[int], typer.Option(help="Labelled images, the same number per class.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Draws the labelled subset; seeds the GAN and classifiers.")] = None,
    recipe: Annotated[str, typer.Option(help="Augment recipe (augment_cpu) or YAML path.")] = "augment_cpu",
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), e.g. "
                                                                   "gan_steps=5000, arms=real,classic.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run folder (default: runs/augment-...-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder.")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a class-conditional GAN on a few labels, then one classifier per arm; print their test errors."""
    from rich.table import Table

    from gankit.augment import AugmentConfig, load_augment_config, run_augment
    from gankit.cli.train import stopped
    from gankit.config import override, read_run_config
    from gankit.errors import GankitError

    given = {"dataset": dataset, "labels": labels, "seed": seed, "data_root": str(data_root) if data_root else None}
    if folder is not None:
        if dataset is not None:
            raise GankitError("give --dataset or --folder, not both")
        given.update(dataset="folder", folder=str(folder))
    overrides = [override(k, v) for k, v in given.items() if v is not None] + list(set_ or [])
    if resume:
        if out or any(v is not None for k, v in given.items() if k != "data_root"):
            raise GankitError("--resume RUN continues that run as it was set up: give no --dataset, --folder, "
                              "--labels, --seed or --out with it")
        cfg = read_run_config(resume, AugmentConfig, overrides)
    else:
        cfg = load_augment_config(recipe, overrides)
    result = run_augment(cfg, run_dir=resume or out, resume=resume is not None, progress=progress)
    if result.arms:
        first = next(iter(result.arms.values()))
        table = Table(title=f"{cfg.dataset}, {cfg.labels} labels, seed {cfg.seed}: {first['test_images']} test images")
        for column in ("arm", "generated share", "test errors", "error %", "seconds"):
            table.add_column(column, justify="left" if column == "arm" else "right")
        for arm, r in result.arms.items():
            table.add_row(arm, f"{r['generated_share']:.2f}", str(r["test_errors"]), f"{100 * r['test_error_rate']:.2f}",
                          f"{r['seconds']:.0f}")
        console.print(table)
    if result.gan_agreement:
        console.print(agreement_line(result.gan_agreement))
    console.print(f"run folder [cyan]{result.run_dir}[/]: results.json, samples_per_class.png, gan/, arms/")
    if result.interrupted:
        stopped(f"gankit augment --resume {result.run_dir}")


def agreement_line(agreement: dict) -> str:
    """How often the GAN drew the class asked for, and its weakest class."""
    per_class, names = agreement["per_class"], agreement.get("class_names")
    worst = min(range(len(per_class)), key=per_class.__getitem__)
    return (f"GAN samples the {agreement['judge']} labels as the class asked for: "
            f"{100 * agreement['agreement']:.1f} % (lowest, class {names[worst] if names else worst}: "
            f"{100 * per_class[worst]:.1f} %)")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
    app.command(epilog=EPILOG)(augment)
