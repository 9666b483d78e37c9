"""Commands for GANs: `gankit train`, `sample`, `info`, `recipes`, `download`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from gankit.errors import GankitError

app = typer.Typer()   # the commands are registered on the main app by register()
console = Console()

QUICKSTART = "quickstart"


@app.command(epilog="""Examples:

* `gankit train` : a one-minute DCGAN on the embedded 8x8 digits

* `gankit train dcgan_mnist --data-root ../shared/data`

* `gankit train configs/wgangp_fashion.yaml --set train.steps=2000 --set train.lr_g=5e-5`

* `gankit train --resume runs/dcgan_mnist-20261124-101500`
""")
def train(
    recipe: Annotated[Optional[str], typer.Argument(help="Recipe name (see `gankit recipes`) or YAML path.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: section.key=value (repeatable).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/, fashion-mnist/, ...")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder from its last checkpoint.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder to create (default: runs/NAME-TIME).")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a GAN from a recipe. With no recipe: a short DCGAN on the embedded digits."""
    from gankit.config import load_config, override, read_run_config
    from gankit.train import train as run_training

    overrides = list(set_ or []) + ([override("data.root", str(data_root))] if data_root else [])
    if resume:
        if recipe:
            raise GankitError("give either a recipe or --resume RUN_DIR, not both")
        cfg = read_run_config(resume, overrides=overrides)
    else:
        cfg = load_config(recipe or QUICKSTART, overrides)
    result = run_training(cfg, run_dir=resume or out, resume=resume is not None, progress=progress)
    if result.interrupted:
        stopped(f"gankit train --resume {result.run_dir}")
    if result.run_dir is not None:
        console.print(f"done: step {result.step}; samples in [cyan]{result.run_dir / 'samples'}[/], "
                      f"checkpoints in [cyan]{result.run_dir / 'checkpoints'}")


@app.command(epilog="""Examples:

* `gankit sample runs/dcgan_mnist-20261124-101500 -n 64 -o grid.png`

* `gankit sample runs/cgan_mnist-.../checkpoints/ckpt-0005000.json --class 3`

* `gankit sample RUN --interpolate --frames 10 -n 80 -o walk.png`

* `gankit sample RUN -n 1000 --each samples/ --sign` : one signed PNG per sample (`gankit keys init` first)
""")
def sample(
    checkpoint: Annotated[Path, typer.Argument(help="A run folder or a ckpt-*.json / .safetensors file.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write.")] = Path("samples.png"),
    seed: Annotated[int, typer.Option(help="Noise seed.")] = 0,
    class_index: Annotated[Optional[int], typer.Option("--class", help="Class to draw (conditional GANs).")] = None,
    interpolate: Annotated[bool, typer.Option(help="Rows that walk between two random latents.")] = False,
    frames: Annotated[int, typer.Option(help="Images per interpolation row.")] = 10,
    ema: Annotated[bool, typer.Option(help="Use the EMA generator when the checkpoint has one.")] = True,
    each: Annotated[Optional[Path], typer.Option(help="Also write every sample as its own PNG into this folder.")] = None,
    sign: Annotated[bool, typer.Option(help="Embed a signed C2PA manifest in every PNG written (keys from "
                                            "`gankit keys init`, or --cert/--key).")] = False,
    cert: Annotated[Optional[Path], typer.Option(help="Signing certificate chain (PEM) for --sign.")] = None,
    key: Annotated[Optional[Path], typer.Option(help="Its private key (PEM) for --sign.")] = None,
) -> None:
    """Draw samples (or latent interpolations) from a trained generator into a PNG grid."""
    import torch
    from gankit.provenance.files import ImageWriter, generation_assertion
    from gankit.sampling import class_labels, interpolation_latents, load_generator
    from gankit.viz import grid_png, image_png, save_scatter

    if n < 1 or frames < 2:
        raise GankitError("-n must be >= 1 and --frames >= 2")
    if output.is_dir():
        raise GankitError(f"-o {output}: is a folder; give a file name for the PNG, e.g. -o {output / 'samples.png'}")
    gen = load_generator(checkpoint, ema=ema)
    writer = ImageWriter()
    if sign:
        from gankit.provenance import load_signer
        writer.signer = load_signer(cert, key)
        writer.assertion = generation_assertion(gen.config.name, gen.checkpoint, seed, gen.step, class_index)
    g = torch.Generator().manual_seed(seed)
    if interpolate:
        rows = max(1, n // frames)
        z = interpolation_latents(gen, rows, frames, g)
        y = class_labels(gen, rows, class_index)
        y = y.repeat_interleave(frames) if y is not None else None
        images, nrow = gen(z, y), frames
    else:
        images, nrow = gen(gen.noise(n, g), class_labels(gen, n, class_index)), None
    if images.dim() != 4:
        save_scatter(images, output, title=f"{gen.checkpoint.name}")
    else:
        writer.write(output, grid_png(images, nrow))
        if each is not None:
            each.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(images):
                writer.write(each / f"sample_{i:05d}.png", image_png(image), index=i)
    console.print(f"wrote {len(images)} samples from {gen.checkpoint} (step {gen.step}) to [cyan]{output}"
                  + (f"[/] and one PNG each to [cyan]{each}" if each is not None and images.dim() == 4 else ""))
    if writer.overhead():
        console.print(writer.overhead())


@app.command(epilog="Example: `gankit download fashion-mnist --data-root ~/data`")
def download(
    name: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10.")],
    data_root: Annotated[Optional[Path], typer.Option(help="Where to put it (default: $GANKIT_DATA, else the cache).")] = None,
) -> None:
    """Fetch a dataset's official files (needs a network connection) and verify them."""
    from gankit.data import download as fetch
    console.print(f"downloaded {name} to [cyan]{fetch(name, data_root)}")


@app.command(epilog="Example: `gankit recipes`, then `gankit train dcgan_mnist`")
def recipes() -> None:
    """List the built-in recipes with one-line descriptions."""
    from gankit.attacks.train import RECIPES_DIR as ROBUST
    from gankit.config import list_recipes
    from gankit.metrics.train_backbones import RECIPES_DIR as BACKBONES
    from gankit.privacy.synth import RECIPES_DIR as SYNTH
    from gankit.semisup.config import RECIPES_DIR as SEMISUP
    table = Table("recipe", "description", "command", box=None)
    for folder, command in ((None, "gankit train {}"), (SEMISUP, "gankit semisup --recipe {}"),
                            (ROBUST, "gankit robust-train --recipe {}"), (SYNTH, "gankit synth fit DATA --recipe {}"),
                            (BACKBONES, "gankit backbone train {}")):
        for name, description in (list_recipes(folder) if folder else list_recipes()).items():
            table.add_row(name, description, command.format(name))
    console.print(table)


@app.command(epilog="Example: `gankit info runs/dcgan_mnist-20261124-101500`")
def info(run_dir: Annotated[Path, typer.Argument(help="A run folder (any gankit training command's).")]) -> None:
    """Summarise a run: config, progress, last metrics, checkpoints, samples."""
    from gankit.checkpoint import list_checkpoints
    from gankit.config import read_recipe_file, read_run_config
    from gankit.tracking import best_record
    from gankit.viz import read_metrics

    if not (run_dir / "config.yaml").is_file():
        raise GankitError(f"{run_dir} is not a gankit run folder (no config.yaml)")
    values = read_recipe_file(run_dir / "config.yaml")
    meta = json.loads((run_dir / "meta.json").read_text()) if (run_dir / "meta.json").is_file() else {}
    rows = read_metrics(run_dir / "metrics.jsonl")
    ckpts = list_checkpoints(run_dir / "checkpoints")
    console.print(f"[bold]{run_dir}[/]  {values.get('name')}: {values.get('description', '')}")
    if isinstance(values.get("train"), dict):  # a GAN run: its recipe has data/model/train sections
        cfg = read_run_config(run_dir)
        done = rows[-1]["step"] if rows else 0
        console.print(f"data {cfg.data.name}, arch {cfg.model.arch} (conditional: {cfg.model.conditional}), "
                      f"loss {cfg.train.loss}, step {done} / {cfg.train.steps}")
    console.print(f"seed {meta.get('seed')}, torch {meta.get('torch')}, gankit {meta.get('gankit')}, "
                  f"commit {meta.get('git_commit')}, machine {meta.get('machine', meta.get('device'))}")
    if rows:
        numbers = {k: v for k, v in rows[-1].items() if isinstance(v, (int, float)) and k != "step"}
        console.print(f"last logged step {rows[-1].get('step')}: "
                      + ", ".join(f"{k} {v:.4g}" for k, v in numbers.items()))
    console.print(f"checkpoints: {', '.join(p.stem for p in ckpts) or 'none'}")
    best = best_record(run_dir)
    if best:
        console.print(f"best by FID: step {best['step']}, FID {best['fid']:.3g} on {best['eval_samples']} "
                      f"samples: [cyan]{run_dir / 'best'}")
    samples = sorted((run_dir / "samples").glob("*.png"))
    if samples:
        console.print(f"latest sample grid: [cyan]{samples[-1]}")


def stopped(resume: str) -> None:
    """A run that stopped before its last step (Ctrl-C, SIGTERM, a time budget): say so, exit with status 3."""
    Console(stderr=True).print(f"[yellow]stopped before the last step[/]; continue with: {resume}")
    raise typer.Exit(STOPPED)


STOPPED = 3   # the exit status of a run that stopped early and can be resumed


def register(main: typer.Typer) -> None:
    """Add this module's commands to the ``gankit`` app."""
    for command in app.registered_commands:
        main.registered_commands.append(command)
