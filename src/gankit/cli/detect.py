"""Commands for the real-vs-generated detector: `gankit detect train | eval | score`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

detect_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                         help="Tell generated images from real ones: a small CNN (Wang et al. 2020) and two "
                              "baselines, scored per generator and per perturbation.")
console = Console()

DEFAULT_RECIPE = "wang2020_small"


def _threads(threads: int | None) -> None:
    import torch

    from gankit.errors import GankitError
    if threads is not None:
        if threads < 1:
            raise GankitError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def _print_report(report: dict) -> None:
    """Two tables, AP and accuracy: a row per (generator, method), a column per perturbation."""
    from rich.table import Table
    results = report["results"]
    perturbations = list(next(iter(results.values())))
    sources = list(next(iter(results.values()))["clean"])
    fewer = {k: v for k, v in report.get("images", {}).items() if v < report["n"]}
    console.print(f"{report['n']} real {report['real']} test images against {report['n']} samples of each "
                  f"generator (* = trained on)" + "".join(f"; {escape(k)}: {v} images" for k, v in fewer.items()))
    for metric, title in (("ap", "AP %"), ("accuracy", "accuracy % at 0.5")):
        table = Table(title=title, title_justify="left")
        table.add_column("generator", no_wrap=True)
        table.add_column("method", no_wrap=True)
        for p in perturbations:
            table.add_column(p, justify="right")
        for source in sources:
            name = escape(source) + (" *" if source in report["trained_on"] else "")
            for i, (method, by_perturbation) in enumerate(results.items()):
                table.add_row(name if i == 0 else "", method,
                              *[f"{100 * by_perturbation[p][source][metric]:.1f}" for p in perturbations])
        console.print(table)


@detect_app.command(epilog="""Examples:

* `gankit detect train --real mnist --fake runs/dcgan-mnist` : learn DCGAN's samples, report on them

* `gankit detect train --real mnist --fake runs/dcgan-mnist --test runs/wgangp-mnist --test runs/gan2014-mnist` :
  and on two generators it never saw

* `gankit detect train --fake runs/a runs/b --set steps=3000 --out runs/detector` : two generators' samples, longer

* `gankit detect train --real fashion-mnist --fake runs/dcgan-fashion --set seed=1 --no-baselines`

* `gankit detect train --resume runs/detect-mnist-20261204-101500` : after Ctrl-C
""")
def train(
    fake: Annotated[Optional[list[Path]], typer.Option(help="GAN run folder whose samples to learn (repeatable; "
                                                            "more may follow as arguments).")] = None,
    more_fake: Annotated[Optional[list[Path]], typer.Argument(metavar="RUN", help="More GAN run folders to "
                                                              "learn from, as in --fake A B C.")] = None,
    real: Annotated[Optional[str], typer.Option(help="Dataset of the real images: mnist, fashion-mnist, digits "
                                                     "[default: the recipe's, mnist].")] = None,
    test: Annotated[Optional[list[Path]], typer.Option(help="Held-out GAN run folder, or folder of generated "
                                                      "images of the real data's size, to report on (repeatable).")] = None,
    recipe: Annotated[str, typer.Option(help="Detector recipe name or YAML path.")] = DEFAULT_RECIPE,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), e.g. "
                                                      "--set steps=3000 --set augment.blur_prob=0.")] = None,
    n: Annotated[int, typer.Option("-n", help="Real test images, and samples of each generator, to report on.")] = 2000,
    baselines: Annotated[bool, typer.Option(help="Fit and report the spectrum and pixel baselines beside it.")] = True,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice).")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run folder (default: runs/NAME-REAL-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the training in this run folder.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a real-vs-generated detector on one generator's samples (or several), then report its AP and
    accuracy on them and on the --test generators, clean and perturbed (report.json in its run folder)."""
    import json

    from gankit.cli.train import stopped
    from gankit.config import override
    from gankit.detect import evaluate_detector, load_detect_config, read_detect_config, train_detector
    from gankit.errors import GankitError

    _threads(threads)
    runs = [str(p) for p in (fake or []) + (more_fake or [])]
    overrides = [override("real", real)] if real else []
    overrides += [f"fake={json.dumps(runs)}"] if runs else []
    overrides += [override("data_root", str(data_root))] if data_root else []
    overrides += list(set_ or [])
    if resume is not None:
        if recipe != DEFAULT_RECIPE or runs:
            raise GankitError("--resume RUN continues that run: give no --recipe or --fake with it")
        cfg = read_detect_config(resume, overrides)
        out = resume
    else:
        if not runs:
            raise GankitError("name the generator to learn from: --fake RUN (a GAN run folder)")
        cfg = load_detect_config(recipe, overrides)
    trained = train_detector(cfg, out=out, resume=resume is not None, progress=progress)
    if not trained.finished:
        stopped(f"gankit detect train --resume {trained.run_dir}")
    console.print(f"detector trained for {trained.step} steps in {trained.seconds:.0f} s: [cyan]{trained.run_dir}")
    report = evaluate_detector(trained.run_dir, [str(t) for t in test or []], n=n, baselines=baselines,
                               data_root=data_root)
    _print_report(report)
    console.print(f"report: [cyan]{trained.run_dir / 'report.json'}")


@detect_app.command(name="eval", epilog="""Examples:

* `gankit detect eval runs/detector --test runs/wgangp-mnist --test runs/hinge-mnist`

* `gankit detect eval runs/detector -n 10000 --no-baselines -o /tmp/report.json`
""")
def eval_(
    model: Annotated[Path, typer.Argument(help="A detector run folder or its ckpt-*.json.")],
    test: Annotated[Optional[list[Path]], typer.Option(help="Held-out GAN run folder, or folder of generated "
                                                      "images of the real data's size, to report on (repeatable).")] = None,
    n: Annotated[int, typer.Option("-n", help="Real test images, and samples of each generator.")] = 2000,
    baselines: Annotated[bool, typer.Option(help="Fit and report the spectrum and pixel baselines beside it.")] = True,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice).")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Report file (default: MODEL/report.json).")] = None,
) -> None:
    """Report a trained detector's AP and accuracy on the generators it learnt and on --test ones,
    clean and under JPEG 75 / 50, blur sigma 1 and resize 0.5."""
    from gankit.detect import evaluate_detector

    _threads(threads)
    report = evaluate_detector(model, [str(t) for t in test or []], n=n, baselines=baselines, data_root=data_root,
                               out=out)
    _print_report(report)


@detect_app.command(epilog="""Examples:

* `gankit detect score runs/detector samples/*.png` : P(generated) of each file

* `gankit detect score runs/detector ./uploads --threshold 0.9`
""")
def score(
    model: Annotated[Path, typer.Argument(help="A detector run folder or its ckpt-*.json.")],
    images: Annotated[list[Path], typer.Argument(help="Image files, or folders of them.")],
    threshold: Annotated[float, typer.Option(help="Call an image generated when its score is at least this.")] = 0.5,
) -> None:
    """Print each image's probability of being generated, as the detector sees it.

    Images of another size are center-cropped and resized to the detector's input; resampling
    leaves traces of its own, so their scores are less telling (the count is printed)."""
    from gankit.detect import CNNScorer, load_detector, read_image_files
    from gankit.errors import GankitError

    if not 0 <= threshold <= 1:
        raise GankitError(f"--threshold must be in [0, 1], got {threshold}")
    detector, _ = load_detector(model)
    scorer = CNNScorer(detector)
    files, pixels, resized = read_image_files(images, scorer.shape)
    scores = scorer.scores(pixels)
    for path, p in zip(files, scores):
        verdict = "[red]generated[/]" if p >= threshold else "[green]real[/]     "
        console.print(f"{p:.4f}  {verdict}  {escape(str(path))}", highlight=False)
    flagged = int((scores >= threshold).sum())
    console.print(f"{flagged} of {len(files)} image(s) scored {threshold} or more"
                  + (f"; {resized} resized to {scorer.shape[2]}x{scorer.shape[1]}" if resized else ""))


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    app.add_typer(detect_app, name="detect")
