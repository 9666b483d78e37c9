"""Commands for unpaired translation: `gankit translate train | apply`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

translate_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                            help="Unpaired image-to-image translation (CycleGAN), scored while it trains.")
console = Console()


@translate_app.command(epilog="""Examples:

* `gankit translate train cyclegan_cpu --data-root ../shared/data` : MNIST <-> MNIST-M at 32 px, sized for a CPU

* `gankit translate train cyclegan_cpu --set domain_b=digits` : MNIST <-> scikit-learn's digits

* `gankit translate train cyclegan_paper --set domain_a=~/horse2zebra --set domain_b=~/horse2zebra --set device=cuda` :
the paper's settings on a folder with trainA/ trainB/ testA/ testB/

* `gankit translate train --resume runs/cyclegan_cpu-20261204-101500` : after Ctrl-C
""")
def train(
    recipe: Annotated[Optional[str], typer.Argument(help="Recipe name (cyclegan_paper, cyclegan_cpu) or YAML path.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/.")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run folder (default: runs/NAME-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a CycleGAN between two image collections; translated accuracy, cycle L1 and FID as it trains."""
    from gankit.cli.train import stopped
    from gankit.config import override, read_run_config
    from gankit.errors import GankitError
    from gankit.translate import TranslateConfig, load_translate_config, train_translation

    overrides = list(set_ or []) + ([override("data_root", str(data_root))] if data_root else [])
    if resume:
        if recipe or out:
            raise GankitError("--resume RUN continues that run: give neither a recipe nor --out with it")
        cfg = read_run_config(resume, TranslateConfig, overrides)
    else:
        cfg = load_translate_config(recipe or "cyclegan_cpu", overrides)
    result = train_translation(cfg, run_dir=resume or out, resume=resume is not None, progress=progress)
    scores = result.scores
    for d in ("ab", "ba"):
        if f"accuracy_{d}" in scores:
            console.print(f"{d[0].upper()} -> {d[1].upper()}: translated accuracy {100 * scores[f'accuracy_{d}']:.1f} % "
                          f"(untranslated {100 * scores[f'baseline_{d}']:.1f} %), cycle L1 "
                          f"{scores[f'cycle_l1_{d}']:.3f}")
    console.print(f"run folder [cyan]{result.run_dir}[/]: scores.jsonl, scores.png, samples/")
    if result.interrupted:
        stopped(f"gankit translate train --resume {result.run_dir}")


@translate_app.command(epilog="""Examples:

* `gankit translate apply runs/cyclegan_cpu-... digit.png -o out/ --direction a2b`

* `gankit translate apply RUN photos/ -o painted/ --direction b2a --sign` : signed PNGs (`gankit keys init` first)
""")
def apply(
    run: Annotated[Path, typer.Argument(help="A `gankit translate train` run folder or checkpoint.")],
    images: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the translated images (same names "
                                                               "and sizes as the inputs).")],
    direction: Annotated[str, typer.Option(help="a2b or b2a.")] = "a2b",
    sign: Annotated[bool, typer.Option(help="Embed a signed C2PA manifest in each PNG written.")] = False,
    cert: Annotated[Optional[Path], typer.Option(help="Signing certificate chain (PEM) for --sign.")] = None,
    key: Annotated[Optional[Path], typer.Option(help="Its private key (PEM) for --sign.")] = None,
) -> None:
    """Translate images with a trained CycleGAN; each output keeps its input's file name and size."""
    from gankit.errors import GankitError
    from gankit.provenance.files import ImageWriter, generation_assertion
    from gankit.translate.apply import apply_translation, load_translator

    if output.exists() and not output.is_dir():
        raise GankitError(f"-o {output}: is a file; give a folder for the translated images")
    writer = None
    if sign:
        from gankit.provenance import load_signer
        _, cfg, json_path = load_translator(run, direction)
        step = int(json_path.stem.split("-")[1])
        writer = ImageWriter(load_signer(cert, key), generation_assertion(cfg.name, json_path, cfg.seed, step, None))
    written = apply_translation(run, images, output, direction, writer)
    console.print(f"translated {len(written)} image(s) {direction} into [cyan]{output}")
    if writer is not None and writer.overhead():
        console.print(writer.overhead())


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    app.add_typer(translate_app, name="translate")
