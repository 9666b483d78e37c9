"""Commands for semi-supervised GAN: `gankit semisup`, `gankit classify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console()


def semisup(
    dataset: Annotated[str, typer.Option(help="mnist or fashion-mnist.")] = "mnist",
    labels: Annotated[Optional[int], typer.Option(help="Labeled examples in all, balanced over the classes "
                                                       "(default: the recipe's, 100).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: labeled subset, weights, batches, noise.")] = 0,
    parallel_seeds: Annotated[int, typer.Option(help="Train seeds SEED .. SEED+N-1 side by side in one "
                                                     "process; each gets RUN/seed-K/.")] = 1,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs over the unlabeled set (default: the recipe's, "
                                                       "300 as in the paper).")] = None,
    supervised: Annotated[bool, typer.Option("--supervised", help="Train the supervised-only baseline: the "
                                             "same D on the labeled images alone.")] = False,
    recipe: Annotated[Optional[str], typer.Option(help="Recipe name or YAML (default: ssgan_mnist100 or "
                                                       "ssgan_fashion by dataset).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), "
                                                      "e.g. --set ema=0.9999.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run folder (default: runs/NAME-...).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a semi-supervised GAN classifier (Salimans et al. 2016) and print its test error.

    The labeled subset is drawn per seed, balanced per class, and saved in the run
    folder (labeled_indices.json); the unlabeled pool is the whole training set. The
    test error is measured on the official 10,000 test images with the Polyak-averaged
    classifier after the last epoch (never used to pick a model).
    """
    from gankit.cli.train import stopped
    from gankit.config import override
    from gankit.errors import GankitError
    from gankit.semisup import load_semisup_config, train_semisup
    from gankit.semisup.config import DEFAULT_RECIPE

    if resume:
        if out or recipe:
            raise GankitError("--resume RUN continues that run: give neither --out nor --recipe with it")
        recipe, out = str(resume / "config.yaml"), resume
        overrides = []
    else:
        if dataset not in DEFAULT_RECIPE:
            raise GankitError(f"--dataset: expected one of {', '.join(DEFAULT_RECIPE)}, got {dataset!r}")
        overrides = [override("dataset", dataset), f"seed={seed}", f"parallel_seeds={parallel_seeds}"]
    overrides += [f"labels={labels}"] * (labels is not None) + [f"epochs={epochs}"] * (epochs is not None)
    overrides += ["method=supervised"] * supervised + ([override("data_root", str(data_root))] if data_root else [])
    cfg = load_semisup_config(recipe or DEFAULT_RECIPE[dataset], overrides + list(set_ or []))
    result = train_semisup(cfg, run_dir=out, resume=resume is not None, progress=progress)
    if result.test_errors is None:
        stopped(f"gankit semisup --resume {result.run_dir}")
    for seed, folder, errors in zip(result.seeds, result.seed_dirs, result.test_errors):
        pct = 100 * errors / result.test_size
        console.print(f"{cfg.method} {cfg.dataset}, {cfg.labels} labels, seed {seed}, {result.epochs} epochs: "
                      f"[bold]test error {errors} / {result.test_size} ({pct:.2f} %)[/]")
        console.print(f"  classifier: [cyan]{folder / 'classifier.safetensors'}[/] (+ .json); "
                      f"its mistakes: [cyan]{folder / 'mistakes.png'}")
    if len(result.seeds) > 1:
        import statistics
        console.print(f"[bold]mean over {len(result.seeds)} seeds: {statistics.mean(result.test_errors):.1f} "
                      f"± {statistics.stdev(result.test_errors):.1f} errors[/] (sample standard deviation)")


def classify(
    checkpoint: Annotated[Path, typer.Argument(help="A classifier: a `gankit semisup` run folder or its classifier.json, "
                                                    "an arm of `gankit augment` (RUN/arms/ARM), a `gankit robust-train` "
                                                    "run.")],
    images: Annotated[list[Path], typer.Argument(help="PNG/JPEG images: resized to the classifier's input size.")],
    invert: Annotated[bool, typer.Option(help="Invert the grey levels (for dark digits on white paper; "
                                              "MNIST is white on black).")] = False,
) -> None:
    """Predict the class of each image with a classifier gankit trained."""
    import torch

    from gankit.attacks.adapters import read_classifier
    from gankit.semisup import load_image

    model, record = read_classifier(checkpoint)   # [0, 1] images in, logits out
    shape = tuple(record.get("image_shape", (1, 28, 28)))
    x = torch.stack([load_image(path, shape, invert) for path in images])
    with torch.no_grad():
        probs, classes = torch.softmax(model(x), dim=1).max(1)
    names = record.get("class_names") or [str(k) for k in range(int(classes.max()) + 1)]
    for path, k, p in zip(images, classes.tolist(), probs.tolist()):
        console.print(f"{path}: [bold]{names[k]}[/] (class {k}, probability {p:.3f})")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
    app.command(epilog="""Examples:

* `gankit semisup --dataset mnist --labels 100 --seed 0 --data-root ../shared/data`

* `gankit semisup --recipe ssgan_mnist100_fast --seed 0` : 30 epochs with the Bad-GAN Adam settings

* `gankit semisup --recipe ssgan_mnist100_pi --seed 0` : the fast recipe plus Pi-model
consistency and a class-balance term against D's running class marginal, 100 epochs

* `gankit semisup --recipe ssgan_mnist100_pi --seed 3 --set balance_weight=0 --set balance_ema=0` : ... without
the balance term (lost class 9 on 2 of 5 seeds)

* `gankit semisup --dataset mnist --labels 100 --seed 0 --supervised` : the supervised-only baseline

* `gankit semisup --dataset mnist --seed 0 --parallel-seeds 5 --set device=cuda` : seeds 0-4 at once

* `gankit semisup --dataset fashion-mnist --labels 1000 --epochs 50 -o runs/fashion1000`

* `gankit semisup --resume runs/fashion1000`

Knobs (`--set key=value`; every key of the recipe, see src/gankit/configs/semisup/ and
src/gankit/semisup/config.py): `consistency_weight` (Pi-model term: D classifies each unlabeled
image twice with independent noise and pays the squared distance), `consistency_target` (`pi`,
or `ema` for the Mean Teacher: the second prediction is the EMA classifier's), `balance_weight`
(KL of D's mean class prediction on unlabeled images from uniform: keeps a class from
vanishing; `smallest_class_unl` is logged each epoch with a warning when one almost
disappears), `balance_ema` (that KL of the mean prediction averaged over past batches),
`entropy_weight`, `translate` (random shifts of every image D sees; no longer the
permutation-invariant setting), `g_lr`, `g_beta1`, `beta2`, `ema`, `val_size` (labels of that
many training images outside the labeled subset give a validation error: choose settings by it,
never by the test error), `compile` (capture the whole step: torch.compile, CUDA graphs on a GPU),
`parallel_seeds` (seeds side by side, each in RUN/seed-K/).
""")(semisup)
    app.command(epilog="""Examples:

* `gankit classify runs/ssgan_mnist100-ssgan-100-s0-20261125-020000 digit.png`

* `gankit classify RUN/classifier.json scan1.png scan2.png --invert`

* `gankit classify runs/augment-fashion-mnist-100-s0-.../arms/classic+gan shoe.png` : an arm of `gankit augment`
""")(classify)
