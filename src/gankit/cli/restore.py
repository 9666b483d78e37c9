"""Commands for image restoration with an untrained network: `gankit restore inpaint | denoise | superres`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

restore_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                          help="Deep Image Prior: restore one photo with an untrained network, beside the "
                               "classical tools.")
console = Console()

INPUTS_HELP = """

Inputs: PNG, JPEG, TIFF, BMP (anything Pillow reads), gray or RGB. 16-bit images are scaled by
1/65535; an RGBA image whose alpha is fully opaque loses its alpha, a transparent one is refused.
Sides that are not multiples of 32 are mirrored out for the net and cropped back.

Writes OUTPUT (the restoration: the early-stopping rule's pick, else the last output),
OUTPUT_strip.png (corrupted / the output at a few steps / last / pick / reference) and OUTPUT.json
(settings, iterations, PSNR per logged step, wall time, hardware, baselines). Checkpoints go to
the run folder (--run); Ctrl-C stops with a checkpoint (exit status 3), --resume RUN continues.

Recipes: dip_* are the paper's settings (GPU-sized; the default on CUDA), cpu_* smaller nets that
finish a 128 x 128 photo in a few minutes on a CPU (the default elsewhere). --set key=value
overrides any key, e.g. --set iterations=2000 --set early_stop=none.
"""

Output = Annotated[Path, typer.Option("-o", "--output", help="Restored image to write (PNG, TIFF, JPEG, BMP).")]
Reference = Annotated[Optional[Path], typer.Option(help="The clean photo: adds PSNR and SSIM to the progress bar "
                                                        "and the record.")]
Recipe = Annotated[Optional[str], typer.Option(help="Recipe name or YAML path [default: dip_TASK on CUDA, cpu_TASK "
                                                    "elsewhere].")]
Sets = Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), e.g. "
                                                   "--set iterations=3000.")]
Compare = Annotated[bool, typer.Option(help="Also run the classical methods and print them beside DIP.")]
Iterations = Annotated[Optional[int], typer.Option(help="Most Adam steps (the rule may stop earlier).")]
Seed = Annotated[Optional[int], typer.Option(help="Seed of the net, its input and the input noise [default: 0].")]
Device = Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:1, mps [default: auto].")]
Threads = Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice).")]
Run = Annotated[Optional[Path], typer.Option(help="Run folder for checkpoints and the log [default: "
                                                  "runs/restore-TASK-NAME-TIME].")]
Resume = Annotated[Optional[Path], typer.Option(help="Continue the fit in this run folder (same inputs).")]
Progress = Annotated[bool, typer.Option(help="Show the progress bar.")]
Sign = Annotated[bool, typer.Option(help="Embed a signed C2PA manifest in OUTPUT and its strip (PNG only; keys from "
                                         "`gankit keys init`, or --cert/--key).")]
Cert = Annotated[Optional[Path], typer.Option(help="Signing certificate chain (PEM) for --sign.")]
Key = Annotated[Optional[Path], typer.Option(help="Its private key (PEM) for --sign.")]


@restore_app.command(epilog="""Examples:

* `gankit restore inpaint photo.png --mask mask.png -o restored.png` : white = keep, black = fill in

* `gankit restore inpaint photo.png --mask mask.png -o restored.png --reference clean.png --compare`

* `gankit restore inpaint barbara.png --mask half.png -o out.png --recipe dip_inpaint_pixels` : 50 % missing pixels
""" + INPUTS_HELP)
def inpaint(
    image: Annotated[Path, typer.Argument(help="The photo with holes.")],
    mask: Annotated[Path, typer.Option(help="Mask PNG of the photo's size: white = keep, black = fill in.")],
    output: Output, reference: Reference = None, recipe: Recipe = None, set_: Sets = None, compare: Compare = False,
    iterations: Iterations = None, seed: Seed = None, device: Device = None, threads: Threads = None,
    run: Run = None, resume: Resume = None, progress: Progress = True, sign: Sign = False, cert: Cert = None,
    key: Key = None,
) -> None:
    """Fill in the pixels a mask hides.

    The mask is read as gray and split at half: white (128 or more of 255) = keep, black = fill in;
    it must have the photo's size and both kinds of pixel. The kept pixels are copied into the output
    unchanged (`--set keep_known=false`: the net's output alone, as the paper shows it)."""
    from gankit.restore import inpainting, read_image, read_mask
    photo = read_image(image)
    hidden = read_mask(mask, tuple(photo.shape[1:]), image)
    ref = read_image(reference, "reference") if reference is not None else None
    problem = inpainting(photo, hidden, ref, reference or "")
    inputs = {"image": str(image), "mask": str(mask), "reference": _str(reference)}
    _restore("inpaint", problem, inputs, output, recipe, set_, compare, iterations, seed, device, threads, run,
             resume, progress, None, (sign, cert, key))


@restore_app.command(epilog="""Examples:

* `gankit restore denoise noisy.png -o clean.png`

* `gankit restore denoise noisy.png --sigma 25 -o clean.png --compare --reference clean_photo.png`
""" + INPUTS_HELP)
def denoise(
    image: Annotated[Path, typer.Argument(help="The noisy photo.")],
    output: Output,
    sigma: Annotated[Optional[float], typer.Option(help="Noise std in 0-255 units, for the baselines (DIP does not "
                                                        "need it) [default: estimated from the photo].")] = None,
    reference: Reference = None, recipe: Recipe = None, set_: Sets = None, compare: Compare = False,
    iterations: Iterations = None, seed: Seed = None, device: Device = None, threads: Threads = None,
    run: Run = None, resume: Resume = None, progress: Progress = True, sign: Sign = False, cert: Cert = None,
    key: Key = None,
) -> None:
    """Remove noise (exponential averaging of outputs, as in the paper)."""
    from gankit.errors import GankitError
    from gankit.restore import denoising, read_image
    if sigma is not None and not 0 < sigma < 255:
        raise GankitError(f"--sigma must be between 0 and 255 (0-255 pixel units), got {sigma}")
    photo = read_image(image)
    ref = read_image(reference, "reference") if reference is not None else None
    problem = denoising(photo, ref, reference or "")
    inputs = {"image": str(image), "sigma": sigma, "reference": _str(reference)}
    _restore("denoise", problem, inputs, output, recipe, set_, compare, iterations, seed, device, threads, run,
             resume, progress, None if sigma is None else sigma / 255.0, (sign, cert, key))


@restore_app.command(epilog="""Examples:

* `gankit restore superres small.png --scale 4 -o large.png`

* `gankit restore superres small.png --scale 4 -o large.png --reference large_clean.png --compare`
""" + INPUTS_HELP)
def superres(
    image: Annotated[Path, typer.Argument(help="The low-resolution photo.")],
    output: Output,
    scale: Annotated[int, typer.Option(help="Enlargement factor (2-16; the paper: 4 and 8).")] = 4,
    reference: Reference = None, recipe: Recipe = None, set_: Sets = None, compare: Compare = False,
    iterations: Iterations = None, seed: Seed = None, device: Device = None, threads: Threads = None,
    run: Run = None, resume: Resume = None, progress: Progress = True, sign: Sign = False, cert: Cert = None,
    key: Key = None,
) -> None:
    """Enlarge a photo: the output, downsampled (Lanczos), must match the photo."""
    from gankit.restore import read_image, super_resolution
    photo = read_image(image)
    ref = read_image(reference, "reference") if reference is not None else None
    problem = super_resolution(photo, scale, ref, reference or "")
    inputs = {"image": str(image), "scale": scale, "reference": _str(reference)}
    _restore("superres", problem, inputs, output, recipe, set_, compare, iterations, seed, device, threads, run,
             resume, progress, None, (sign, cert, key))


def _str(path: Optional[Path]) -> Optional[str]:
    return None if path is None else str(path)


def _restore(task, problem, inputs, output, recipe, set_, compare, iterations, seed, device, threads, run, resume,
             progress, sigma, signing) -> None:
    import shlex
    import sys

    import torch

    from gankit.cli.train import stopped
    from gankit.config import override
    from gankit.distributed import pick_device
    from gankit.errors import GankitError
    from gankit.restore import default_recipe, load_restore_config, read_restore_config, restore
    from gankit.restore.run import output_paths
    from gankit.runs import new_run_dir

    if threads is not None:
        if threads < 1:
            raise GankitError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    output_paths(output)   # a bad output name is refused before any work
    signer = _signer(output, *signing)   # so is a missing key
    flags = dict(iterations=iterations, seed=seed, device=device)
    overrides = [override(k, v) for k, v in flags.items() if v is not None] + list(set_ or [])
    if resume is not None:
        if recipe:
            raise GankitError("--resume RUN continues that run with its own settings: give no --recipe with it")
        cfg = read_restore_config(resume, overrides)
        run = resume
    else:
        if recipe is None:
            device_type = pick_device(device or "auto").type
            recipe = default_recipe(task, device_type)
            console.print(f"recipe: {recipe} (on {device_type}; --recipe chooses another)", highlight=False)
        cfg = load_restore_config(recipe, overrides)
        run = run or new_run_dir("runs", f"restore-{task}-{Path(inputs['image']).stem}")
    again = [a for a in sys.argv[1:] if a != "--resume"]
    hint = "gankit " + " ".join(shlex.quote(a) for a in _without_option(again, ("--resume", "--run", "--recipe")))
    result = restore(problem, cfg, output=output, run_dir=run, resume=resume is not None, progress=progress,
                     compare=compare, sigma=sigma, inputs=inputs, resume_command=f"{hint} --resume {{run}}")
    if not result.finished:
        stopped(f"{hint} --resume {run}")
    _report(result)
    if signer is not None:
        _sign_outputs(result, cfg, Path(run), signer, task, Path(inputs["image"]))


def _signer(output: Path, sign: bool, cert: Optional[Path], key: Optional[Path]):
    from gankit.errors import GankitError
    if not sign:
        return None
    if output.suffix.lower() != ".png":
        raise GankitError(f"-o {output}: --sign embeds C2PA manifests in PNG files only; give a name ending in .png")
    from gankit.provenance import load_signer
    return load_signer(cert, key)


def _sign_outputs(result, cfg, run: Path, signer, task: str, image: Path) -> None:
    """Sign the restoration and its strip: a restored photo (IPTC compositeSynthetic), the fitted net's
    checkpoint, its seed and steps, and the photo it was restored from (name and SHA-256)."""
    from gankit.checkpoint import list_checkpoints
    from gankit.provenance import RESTORED
    from gankit.provenance.files import ImageWriter, file_sha256, generation_assertion
    assertion = generation_assertion(cfg.name, list_checkpoints(run / "checkpoints")[-1], cfg.seed, result.step, None)
    writer = ImageWriter(signer, {**assertion, "task": task, "source": image.name,
                                  "source_sha256": file_sha256(image)}, RESTORED)
    for path in (result.paths["output"], result.paths["strip"]):
        writer.write(path, path.read_bytes())
    console.print(writer.overhead())


def _without_option(args: list[str], names: tuple[str, ...]) -> list[str]:
    """The command line without the named options and their values (for the resume hint)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


def _report(result) -> None:
    r = result.record
    it, out = r["iterations"], r["output"]
    stop = it["early_stop"]
    ran = f"{it['run']} of {it['planned']} steps" + (" (stopped by the early-stopping rule)"
                                                     if stop["mode"] == "stop" and stop["fired_at"] else "")
    quality = f"; PSNR {out['psnr']:.2f} dB, SSIM {out['ssim']:.3f}" if "psnr" in out else ""
    console.print(f"{out['which']} after {ran}, {r['wall_seconds']:.0f} s on {r['hardware']}{quality}",
                  highlight=False)
    if "baselines" in r:
        table = Table("method", "PSNR (dB)", "SSIM", "seconds", box=None)
        table.add_row("Deep Image Prior", _num(out.get("psnr"), 2), _num(out.get("ssim"), 3), f"{r['wall_seconds']:.1f}")
        for name, entry in r["baselines"].items():
            if isinstance(entry, dict):
                table.add_row(name, _num(entry.get("psnr"), 2), _num(entry.get("ssim"), 3), f"{entry['seconds']:.1f}")
        if "corrupted" in r:
            table.add_row("(corrupted input)", _num(r["corrupted"]["psnr"], 2), _num(r["corrupted"]["ssim"], 3), "")
        console.print(table)
        if "psnr" not in out:
            console.print("(no --reference: give the clean photo to score the methods)", highlight=False)
        if "sigma_used" in r["baselines"]:
            how = "estimated" if r["baselines"]["sigma_estimated"] else "given"
            console.print(f"denoising baselines used sigma {r['baselines']['sigma_used']:.1f} ({how})", highlight=False)
    paths = result.paths
    console.print(f"wrote [cyan]{paths['output']}[/], [cyan]{paths['strip']}[/] and [cyan]{paths['record']}")


def _num(value, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    if restore_app.registered_commands:
        app.add_typer(restore_app, name="restore")
