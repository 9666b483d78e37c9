"""Deep Image Prior against the classical tools on the photos that ship inside scikit-image.

Cells: three masks (50 % random pixels, a text overlay, a central box; white = keep), Gaussian noise
of sigma 25/255 (not clipped, the protocol of denoising tables), and x4 super-resolution. Every
cell's corrupted photo is fixed (seed 0); DIP runs with --seeds seeds, every seed reported. Each
DIP fit runs its recipe's full iteration count with the early-stopping rule watching
(``early_stop=watch``), so one fit gives three numbers: the rule's pick (what `gankit restore`
returns; "iterations used" is where the rule stopped), the last output, and the best PSNR along
the run (an oracle needing the clean photo, to measure the rule).

    python benchmarks/restore.py --threads 1                          # the CPU run: 128 px, cpu_* recipes
    python benchmarks/restore.py --render-only                        # rewrite the docs from the rows
    python benchmarks/restore.py --merge /tmp/out/rows.jsonl          # add a scratch or device run's fits
    python benchmarks/restore.py --size 512 --recipes dip --device cuda --workers 3   # the paper's table

Rows are appended to --rows (docs/records/restore_rows.jsonl, committed) as fits finish (a killed run keeps
them; a rerun skips them; a second run beside a live one on the same rows takes only the fits nobody has
claimed). The section goes to docs/results.md (``--doc PATH``: elsewhere, e.g. a scratch file), every fit to
docs/experiments/restore.md, and the strips of the first photo to docs/img/restore_*.png. A run kept apart
(``--rows /tmp/out/rows.jsonl --pictures /tmp/out/img``, or the device script's $OUT) joins the page with
``--merge``: its fits that the page lacks, with their strips; a fit on file keeps its row and strip. Fits run
with ``--set`` overrides (a longer run, say) are other fits than their recipe's: the page shows them in a table
of their own, beside the recipe as shipped, and leaves them out of the averages and verdicts.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gankit.restore import (BASELINES, denoising, inpainting, load_restore_config, psnr, restore, run_baseline, ssim,
                            super_resolution)
from gankit.restore.corrupt import add_noise, low_resolution, make_mask
from gankit.restore.photos import photo

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = 128   # the CPU table's photo size
CELLS = ("text", "pixels50", "noise25", "box", "sr4")   # in priority order: the claims first
TASK = {"text": "inpaint", "pixels50": "inpaint", "box": "inpaint", "noise25": "denoise", "sr4": "superres"}
CELL_NAMES = {"text": "text overlay", "pixels50": "50 % missing pixels", "box": "central box (1/4 of each side)",
              "noise25": "Gaussian noise, sigma 25", "sr4": "super-resolution x4"}
STRONGEST = {"inpaint": "biharmonic", "denoise": "cbm3d", "superres": "lanczos"}
SIGMA = 25 / 255
IMAGES = ("astronaut", "camera", "chelsea", "coffee")


def recipe_for(cell: str, family: str) -> str:
    if family == "dip" and cell == "pixels50":
        return "dip_inpaint_pixels"   # the paper's 50 %-pixels setting (Adam 0.001, 11,000 steps)
    return f"{family}_{TASK[cell]}"


def corrupted(cell: str, clean: torch.Tensor):
    """(the problem DIP fits, what the baselines read, their extra inputs) for one cell."""
    _, h, w = clean.shape
    if TASK[cell] == "inpaint":
        mask = make_mask(cell, h, w, seed=0)
        return inpainting(clean * mask, mask, clean), clean * mask, {"mask": mask}
    if cell == "noise25":
        noisy = add_noise(clean, SIGMA, seed=0)
        return denoising(noisy, clean), noisy, {"sigma": SIGMA}
    small = low_resolution(clean, 4)
    return super_resolution(small, 4, clean), small, {"scale": 4}


# --- rows ------------------------------------------------------------------------------

def read_rows(path: Path) -> list[dict]:
    """The rows on file, the first of any repeated fit (two runs sharing a rows file may both do one)."""
    if not path.is_file():
        return []
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if key(row) not in seen:
                seen.add(key(row))
                rows.append(row)
    return rows


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:   # several workers append to one file: one locked line each
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(row) + "\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_UN)


def key(row: dict) -> tuple:
    """What makes two rows the same fit; a fit with --set overrides is another fit than its recipe's."""
    return (row["image"], row["size"], row["cell"], row["method"], row.get("seed", 0), row.get("recipe", ""),
            tuple(row.get("overrides") or ()))


def as_shipped(rows: list[dict]) -> list[dict]:
    """The DIP fits run with their recipe's own settings (no --set overrides): the ones averages and verdicts use."""
    return [r for r in rows if r["method"] == "dip" and not r.get("overrides")]


def classical(base: list[dict], image: str, size: int, cell: str, method: str) -> dict | None:
    """The row of one classical method (or the corrupted input) on one photo, size and cell, if measured."""
    return next((r for r in base if (r["image"], r["size"], r["cell"], r["method"]) == (image, size, cell, method)),
                None)


def merge(source: Path, target: Path, pictures: Path) -> list[dict]:
    """Add another run's rows (a scratch run, the device script's $OUT/rows.jsonl) that `target` lacks, and the
    strips of the fits taken, from `img/` beside `source`. A fit already on file keeps its row and its strip,
    so a picture never shows other numbers than its row."""
    if not source.is_file():
        raise SystemExit(f"--merge {source}: no such rows file")
    done = {key(r) for r in read_rows(target)}
    taken = [r for r in read_rows(source) if key(r) not in done]
    for row in taken:
        append(target, row)
        strip = source.parent / "img" / f"restore_{row_stem(row)}.png"
        if row["method"] == "dip" and row["seed"] == 0 and strip.is_file():
            pictures.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(strip, pictures / strip.name)
    return taken


# --- the work ---------------------------------------------------------------------------

def baseline_rows(images, sizes, cells, done: set):
    """Each classical method (and the corrupted input) on each photo, size and cell, as rows."""
    for size in sizes:
        for image in images:
            clean = photo(image, size)
            for cell in cells:
                problem, given, extra = corrupted(cell, clean)
                shown = problem.shown()
                for name in ["corrupted", *BASELINES[TASK[cell]]]:
                    row = {"image": image, "size": size, "cell": cell, "method": name, "seed": 0, "recipe": ""}
                    if key(row) in done:
                        continue
                    try:
                        out, seconds = (shown, 0.0) if name == "corrupted" else \
                            run_baseline(TASK[cell], name, given, **extra)
                    except ImportError as exc:   # a machine without OpenCV or bm3d still gets the rest
                        print(f"skipping {name}: {exc}", flush=True)
                        continue
                    row.update(psnr=psnr(out, clean), ssim=ssim(out, clean), seconds=seconds)
                    yield row


def dip_jobs(images, size, cells, seeds, family, overrides=()) -> list[dict]:
    """In priority order: cell, then photo, then seed (a cell is complete with all its seeds first)."""
    return [{"image": i, "size": size, "cell": c, "method": "dip", "seed": s, "recipe": recipe_for(c, family),
             "overrides": list(overrides)} for c in cells for i in images for s in range(seeds)]


def picture_stem(cell: str, image: str, size: int, overrides=()) -> str:
    """A fit's strip is docs/img/restore_<stem>.png; strips of another size than the CPU table's, or of a fit
    with overrides, kept apart."""
    changed = re.sub(r"[^A-Za-z0-9.]+", "-", " ".join(overrides)).strip("-")
    if len(changed) > 48:   # many overrides: a short name that still tells them apart
        changed = f"{changed[:32]}-{hashlib.sha256(changed.encode()).hexdigest()[:8]}"
    return f"{cell}_{image}" + ("" if size == DEFAULT_SIZE else f"_{size}px") + (f"_{changed}" if changed else "")


def row_stem(row: dict) -> str:
    return picture_stem(row["cell"], row["image"], row["size"], row.get("overrides") or ())


def run_dip(job: dict, device: str, strip_dir: Path | None) -> dict | None:
    clean = photo(job["image"], job["size"])
    problem, _, _ = corrupted(job["cell"], clean)
    cfg = load_restore_config(job["recipe"], [*job["overrides"], "early_stop=watch", f"seed={job['seed']}",
                                              f"device={device}"])
    output = strip_dir / f"{row_stem(job)}.png" if strip_dir else None
    cpu_started = time.process_time()   # on a shared machine the wall time says more about the neighbours
    record = restore(problem, cfg, output=output, progress=sys.stderr.isatty())
    cpu_seconds = time.process_time() - cpu_started
    if not record.finished:   # Ctrl-C or the device script's time limit: a cut fit is never reported
        return None
    it, es = record.record["iterations"], record.record["iterations"]["early_stop"]
    return {**job, "psnr_es": record.record["output"]["psnr"],
            "ssim_es": record.record["output"]["ssim"], "es_pick": es["picked_step"], "es_fired_at": es["fired_at"],
            "iterations_used": es["fired_at"] or it["planned"], "iterations_planned": it["planned"],
            "psnr_last": record.record["final"]["psnr"], "ssim_last": record.record["final"]["ssim"],
            "psnr_best": record.record["best_along_run"]["psnr"], "best_step": record.record["best_along_run"]["step"],
            "backtracks": it["backtracks"], "wall_seconds": record.record["wall_seconds"],
            "cpu_seconds": round(cpu_seconds, 1),
            "seconds_per_step": record.record["seconds_per_step"], "hardware": record.record["hardware"],
            "precision": record.record["precision"], "threads": record.record["torch_threads"],
            "log": [(r["step"], round(r["psnr"], 3)) for r in record.record["log"]]}


def _claims(args) -> Path:
    """Where workers mark the fits they took: beside the runs (git-ignored), not beside the committed rows;
    one folder per rows file (its whole path: two rows files of one name elsewhere are two queues)."""
    where = hashlib.sha256(str(args.rows.resolve()).encode()).hexdigest()[:10]
    return ROOT / "benchmarks" / "runs" / f"{args.rows.stem}-{where}.claims"


def _claim_path(args, job: dict) -> Path:
    *fit, overrides = key(job)
    return _claims(args) / "_".join(map(str, [*fit, *overrides])).replace("/", "-")


def claim(args, job: dict) -> bool:
    """Take a job for this process (workers share one queue, in priority order): False if another has it.
    The claim holds the taker's process id, so a later run can tell a live claim from a stale one."""
    path = _claim_path(args, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = path.with_name(f".{path.name}.{os.getpid()}")
    mine.write_text(str(os.getpid()))
    try:   # a hard link appears whole, with its id, or not at all
        os.link(mine, path)
        return True
    except FileExistsError:
        return False
    finally:
        mine.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        pass
    return True


def drop_stale_claims(args) -> None:
    """Forget the claims of stopped runs, but keep those of a run still going on the same rows file,
    so that a second run started beside it does not fit the same photo twice."""
    for path in _claims(args).glob("*"):
        text = path.read_text().strip()
        if not (text.isdigit() and _alive(int(text))):
            path.unlink(missing_ok=True)


def work(args, jobs: list[dict], done: set, strip_dir: Path | None) -> None:
    """Run the fits not done yet, in order. With a deadline (the device script's hard stop), a fit is
    started only if the seconds per step seen so far say it ends in time; a cheaper one may still fit."""
    per_step: dict[str, float] = {}
    for job in jobs:
        if key(job) in done or _claim_path(args, job).exists():
            continue
        steps = load_restore_config(job["recipe"], args.set).iterations
        guess = per_step.get(job["recipe"], max(per_step.values(), default=0.0))
        if args.deadline and time.time() + guess * steps > args.deadline:
            print(f"not starting {job['cell']} {job['image']} seed {job['seed']}: {steps} steps would end after "
                  f"the time limit", flush=True)
            continue
        if not claim(args, job):
            continue
        started = time.time()
        first = job["seed"] == 0 and job["image"] == args.images[0]
        row = run_dip(job, args.device, strip_dir if first else None)
        if row is None:
            print(f"stopped during {job['cell']} {job['image']} seed {job['seed']}: not reported", flush=True)
            return
        append(args.rows, row)
        per_step[job["recipe"]] = (time.time() - started) / row["iterations_planned"]
        print(f"{job['cell']:8s} {job['image']:10s} seed {job['seed']}: ES pick {row['psnr_es']:.2f} dB (step "
              f"{row['es_pick']}), last {row['psnr_last']:.2f}, best {row['psnr_best']:.2f} (step {row['best_step']}); "
              f"{time.time() - started:.0f} s", flush=True)


# --- the page ---------------------------------------------------------------------------

def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(values: list[float]) -> str:
    m, s = _mean_std(values)
    every = ", ".join(f"{v:.2f}" for v in values)
    return f"{m:.2f} ± {s:.2f} ({every})" if len(values) > 1 else f"{m:.2f} (1 seed)"


def es_gaps(dip: list[dict]) -> list[float]:
    """How far below the best PSNR along the run each fit's early-stopping pick lands (dB)."""
    return [r["psnr_best"] - r["psnr_es"] for r in dip]


def es_gaps_by_size(dip: list[dict]) -> str:
    """'128 px: 0.49 over 60, 256 px: ...' when the fits have several sizes, else ''."""
    sizes = sorted({r["size"] for r in dip})
    if len(sizes) < 2:
        return ""
    by_size = {size: es_gaps([r for r in dip if r["size"] == size]) for size in sizes}
    return ", ".join(f"{size} px: {statistics.mean(g):.2f} over {len(g)}" for size, g in by_size.items())


def photo_order(images) -> list[str]:
    """Photo names in the benchmark's order (IMAGES), any others after them."""
    return sorted(set(images), key=lambda n: IMAGES.index(n) if n in IMAGES else len(IMAGES))


def size_commands(fits: list[dict]) -> list[str]:
    """The commands that fit these DIP rows (all of one size): one for each set of photos that share their cells
    and seeds, so that no command runs more than the rows hold."""
    plan: dict[tuple, list[dict]] = {}
    for image in photo_order(r["image"] for r in fits):
        mine = [r for r in fits if r["image"] == image]
        plan.setdefault((frozenset(r["cell"] for r in mine), max(r["seed"] for r in mine)), []).extend(mine)
    return [size_command(group) for group in plan.values()]


def size_command(fits: list[dict]) -> str:
    """The benchmark command that fits these DIP rows (all of one size): its photos, cells and seeds."""
    (size,) = {r["size"] for r in fits}
    cells = [c for c in CELLS if any(r["cell"] == c for r in fits)]
    family = " --recipes dip" if all(r["recipe"].startswith("dip_") for r in fits) else ""
    (overrides,) = {tuple(r.get("overrides") or ()) for r in fits}
    images = photo_order(r["image"] for r in fits)
    return (f"python benchmarks/restore.py --size {size}{family} --images {','.join(images)} "
            f"--cells {','.join(cells)} --seeds {1 + max(r['seed'] for r in fits)}"
            + "".join(f" --set {o}" for o in overrides))


def strip_links(pictures: Path, doc_dir: Path, cell: str, size: int, photos: list[str], overrides=()) -> list[str]:
    """The strips of this table that exist (seed 0 of a run's first photo), as links from the page."""
    found = [(image, pictures / f"restore_{picture_stem(cell, image, size, overrides)}.png") for image in photos]
    return [f"![{CELL_NAMES[cell]}, {image}, seed 0]({os.path.relpath(path, doc_dir)})" for image, path in found
            if path.is_file()]


def render(rows: list[dict], command: str, pictures: Path, doc_dir: Path) -> tuple[str, str]:
    """(the results.md section, the experiments page's table of every fit); the strips in `pictures` are linked
    from a page in `doc_dir`."""
    # the tables and verdicts are of the recipes as shipped; fits with --set overrides get a table of their own
    every_fit = [r for r in rows if r["method"] == "dip"]
    dip = as_shipped(rows)
    changed = [r for r in every_fit if r not in dip]
    base = [r for r in rows if r["method"] != "dip"]
    dip_sizes = sorted({r["size"] for r in dip})
    out = ["## Deep Image Prior against the classical tools", ""]
    hardware = sorted({f"{r['hardware']}, {r['precision']}" for r in every_fit})
    out += [f"Photos from scikit-image, centre square, anti-aliased resize. PSNR in dB against the clean photo. "
            f"DIP: every seed listed (mean ± std (seed 0, 1, 2)), never the best one; each fit ran its recipe's "
            f"full length with the early-stopping rule watching. **ES pick** is what `gankit restore` returns (the "
            f"running-variance rule of Wang et al. 2021, no ground truth); **last** the output at the recipe's last "
            f"step; **best** the best PSNR along the run (an oracle: it needs the clean photo). Inpainting outputs "
            f"keep the known pixels (`keep_known`, as the classical inpainters do). Where a heading says outputs "
            f"averaged, DIP's restoration is the running average of the net's outputs, which the paper uses for "
            f"denoising; gankit's CPU inpainting recipe averages too (adopted after a probe on seed 0 of astronaut "
            f"and camera, text and 50 % pixels, which are fits of these tables: the choice is not independent of "
            f"them). The noise is Gaussian, added in "
            f"floating point and not clipped (the usual protocol of denoising tables). Hardware: "
            f"{'; '.join(hardware) or 'no DIP fits yet'}.", ""]
    verdicts = []
    for size in dip_sizes:
        for cell in CELLS:
            fits = [r for r in dip if r["size"] == size and r["cell"] == cell]
            if not fits:
                continue
            task = TASK[cell]
            names = ["corrupted", *BASELINES[task]]
            recipes = sorted({r["recipe"] for r in fits})
            its = sorted({r["iterations_planned"] for r in fits})
            decays = {load_restore_config(recipe).average for recipe in recipes} - {0.0}
            settings = f"{'/'.join(map(str, its))} steps"
            if decays:
                settings += f", outputs averaged (decay {'/'.join(map(str, sorted(decays)))})"
            out += [f"### {CELL_NAMES[cell]}, {size} px (recipe {', '.join(f'`{x}`' for x in recipes)}, {settings})",
                    ""]
            out += ["| photo | " + " | ".join(names) + " | DIP ES pick | DIP last | DIP best (oracle) | iterations used "
                    "| seconds per fit: wall (CPU) |", "|---" * (len(names) + 6) + "|"]
            means = {"dip": [], "best": [], STRONGEST[task]: []}
            photos = photo_order(r["image"] for r in fits)
            for image in photos:
                mine = sorted((r for r in fits if r["image"] == image), key=lambda r: r["seed"])
                cells = []
                for name in names:
                    b = classical(base, image, size, cell, name)
                    cells.append(f"{b['psnr']:.2f}" if b else "–")
                    if b and name == STRONGEST[task]:
                        means[name].append(b["psnr"])
                es, last, best = ([r[k] for r in mine] for k in ("psnr_es", "psnr_last", "psnr_best"))
                means["dip"] += es
                means["best"] += best
                used = [r["iterations_used"] for r in mine]
                wall = f"{statistics.mean(r['wall_seconds'] for r in mine):.0f}"
                cpu = [r["cpu_seconds"] for r in mine if "cpu_seconds" in r]
                if cpu:
                    wall += f" ({statistics.mean(cpu):.0f})"
                out.append(f"| {image} | " + " | ".join(cells) + f" | {_cell(es)} | {_cell(last)} | {_cell(best)} | "
                           f"{', '.join(map(str, used))} | {wall} |")
            out.append("")
            strips = strip_links(pictures, doc_dir, cell, size, photos)
            if strips:
                out += ["Seed 0 along its run (corrupted; the output at a few steps; the last step; the ES pick; "
                        "the clean photo):", ""] + [line for strip in strips for line in (strip, "")]
            late = [r for r in fits if r["best_step"] >= LATE * r["iterations_planned"]]
            if len(late) > len(fits) / 2:
                out += [too_short(fits, late, changed), ""]
            if means[STRONGEST[task]]:
                strongest = STRONGEST[task]
                d = statistics.mean(means["dip"]) - statistics.mean(means[strongest])
                gap = statistics.mean(means["best"]) - statistics.mean(means["dip"])
                word = (f"beats {strongest} by {d:.2f} dB" if round(d, 2) > 0 else
                        f"misses {strongest} by {-d:.2f} dB" if round(d, 2) < 0 else f"ties {strongest} (to 0.01 dB)")
                verdicts.append(f"| {CELL_NAMES[cell]} | {size} | {len(fits)} ({len(photos)}) | "
                                f"{statistics.mean(means['dip']):.2f} | "
                                f"{statistics.mean(means[strongest]):.2f} ({strongest}) | DIP {word} | {gap:.2f} |")
    if verdicts:
        gaps = es_gaps(dip)
        out[2:2] = ["Averaged over the photos and seeds of each table below:", "",
                    "| cell | px | fits (photos) | DIP ES pick | strongest classical | verdict | best along the run "
                    "minus ES pick |", "|---|---|---|---|---|---|---|", *verdicts, "",
                    f"Early stopping without ground truth lands {statistics.mean(gaps):.2f} dB below the best PSNR "
                    f"along the run on average over all {len(gaps)} fits ("
                    + "; ".join(filter(None, [es_gaps_by_size(dip), f"largest gap {max(gaps):.2f} dB"])) + ").", ""]
    out += changed_settings(changed, dip, base, pictures, doc_dir) if changed else []
    if not any(size >= 512 for size in dip_sizes):
        out += ["The paper-sized table (512 px, the paper's `dip_*` recipes and iteration counts, 3 seeds) is what "
                "`bash benchmarks/device_restore.sh` produces in one run on a GPU; it has not been run yet, and no "
                "GPU figure is estimated from the CPU ones.", ""]
    fitted = {(r["image"], r["size"], r["cell"]) for r in dip}
    for size in sorted({r["size"] for r in base}):
        # The photos and cells of this size that no DIP table above shows.
        alone = []
        for image in photo_order(r["image"] for r in base if r["size"] == size):
            for cell in CELLS:
                here = {r["method"]: r for r in base if (r["image"], r["size"], r["cell"]) == (image, size, cell)}
                if here and (image, size, cell) not in fitted:
                    alone.append((image, cell, here))
        if not alone:
            continue
        out += [f"### Classical methods alone, {size} px", "",
                "| photo | cell | " + " | ".join(["corrupted", "biharmonic / CBM3D / bicubic", "others"]) + " |",
                "|---|---|---|---|---|"]
        for image, cell, here in alone:
            task = TASK[cell]
            first = {"inpaint": "biharmonic", "denoise": "cbm3d", "superres": "bicubic"}[task]
            others = ", ".join(f"{n} {here[n]['psnr']:.2f}" for n in BASELINES[task] if n != first and n in here)
            out.append(f"| {image} | {CELL_NAMES[cell]} | {here['corrupted']['psnr']:.2f} | "
                       f"{here[first]['psnr']:.2f} ({here[first]['seconds']:.1f} s) | {others} |")
        out.append("")
    out += ["Every fit (seeds, iterations, the PSNR curve): [docs/experiments/restore.md](experiments/restore.md). "
            "Commands:", "", f"    {command}",
            *(f"    {c}" for size in dip_sizes if size != DEFAULT_SIZE
              for c in size_commands([r for r in dip if r["size"] == size])),
            *(f"    {c}" for c in changed_commands(changed)), ""]
    return "\n".join(out), fits_table(every_fit)


LATE = 0.95   # a fit whose best PSNR comes after this share of its steps was likely still rising


def too_short(fits: list[dict], late: list[dict], changed: list[dict]) -> str:
    """What the page says of a table where most fits peaked in their last steps: a guess, or what a longer run of
    the same recipe, photo and seed measured."""
    which = "every fit" if len(late) == len(fits) else f"{len(late)} of {len(fits)} fits"
    said = (f"The best PSNR came in the last {100 - round(100 * LATE)} % of the steps in {which} here: the recipe "
            f"is likely too short for this size")
    its = max(r["iterations_planned"] for r in fits)
    for r in changed:
        same = next((f for f in fits if key(f)[:-1] == key(r)[:-1]), None)
        if same and r["iterations_planned"] > its:
            return (f"{said}. Run for {r['iterations_planned']} steps ({' '.join(r['overrides'])}, below), seed "
                    f"{r['seed']} of {r['image']} peaked at step {r['best_step']} with {r['psnr_best']:.2f} dB "
                    f"({r['psnr_best'] - same['psnr_es']:+.2f} over its {its}-step ES pick); its rule "
                    + (f"fired at step {r['es_fired_at']}." if r["es_fired_at"] else "never fired."))
    return f"{said}, and a longer run would likely score higher."


def _groups(changed: list[dict]) -> dict[tuple, list[dict]]:
    """Fits with overrides, by size, cell, recipe and overrides."""
    groups: dict[tuple, list[dict]] = {}
    for r in sorted(changed, key=lambda r: (r["size"], CELLS.index(r["cell"]), r["seed"])):
        groups.setdefault((r["size"], r["cell"], r["recipe"], tuple(r["overrides"])), []).append(r)
    return groups


def changed_commands(changed: list[dict]) -> list[str]:
    return [size_command(fits) for fits in _groups(changed).values()]


def changed_settings(changed: list[dict], shipped: list[dict], base: list[dict], pictures: Path,
                     doc_dir: Path) -> list[str]:
    """Fits run with --set overrides (a longer run, another width), each beside the fits of its recipe as shipped
    on the same photo, size and seeds."""
    out = ["### Fits with other settings than their recipe's", "",
           "Each beside its recipe as shipped on the same photo and seeds; not in the averages above.", "",
           "| px | cell | photo | recipe | --set | DIP ES pick | DIP last | DIP best (step) | rule fired at "
           "| as shipped: ES pick | as shipped: best | strongest classical |", "|---" * 12 + "|"]
    strips = []
    for (size, cell, recipe, overrides), fits in _groups(changed).items():
        for image in photo_order(r["image"] for r in fits):
            mine = [r for r in fits if r["image"] == image]
            twins = {key(r)[:-1] for r in mine}   # the same fit but for the overrides
            same = [r for r in shipped if key(r)[:-1] in twins]
            rival = classical(base, image, size, cell, STRONGEST[TASK[cell]])
            strongest = f"{rival['psnr']:.2f} ({rival['method']})" if rival else "–"
            es, last = [r["psnr_es"] for r in mine], [r["psnr_last"] for r in mine]
            best = ", ".join(f"{r['psnr_best']:.2f} ({r['best_step']})" for r in mine)
            fired = ", ".join(str(r["es_fired_at"] or "–") for r in mine)
            out.append(f"| {size} | {CELL_NAMES[cell]} | {image} | `{recipe}` | {' '.join(overrides)} | {_cell(es)} | "
                       f"{_cell(last)} | {best} | {fired} | "
                       + (f"{_cell([r['psnr_es'] for r in same])} | {_cell([r['psnr_best'] for r in same])}"
                          if same else "– | –")
                       + f" | {strongest} |")
        strips += strip_links(pictures, doc_dir, cell, size, photo_order(r["image"] for r in fits), overrides)
    out.append("")
    if strips:
        out += ["Seed 0 of each:", ""] + [line for strip in strips for line in (strip, "")]
    return out


def fits_table(dip: list[dict]) -> str:
    lines = ["| px | cell | photo | recipe | seed | ES pick (step) | rule fired at | last | best (step) | backtracks | "
             "wall s/step | CPU s/step | PSNR along the run |", "|---" * 13 + "|"]
    for r in sorted(dip, key=lambda r: (r["size"], CELLS.index(r["cell"]), r["image"], r["seed"])):
        curve = " ".join(f"{p:.1f}" for _, p in r["log"][:: max(1, len(r["log"]) // 15)])
        cpu = f"{r['cpu_seconds'] / r['iterations_planned']:.3f}" if "cpu_seconds" in r else "–"
        recipe = " ".join([r["recipe"], *(r.get("overrides") or ())])
        lines.append(f"| {r['size']} | {r['cell']} | {r['image']} | {recipe} | {r['seed']} | {r['psnr_es']:.2f} "
                     f"({r['es_pick']}) | {r['es_fired_at'] or '–'} | {r['psnr_last']:.2f} | {r['psnr_best']:.2f} "
                     f"({r['best_step']}) | {r['backtracks']} | {r['seconds_per_step']:.3f} | {cpu} | {curve} |")
    return "\n".join(lines)


def write_experiments(table: str, path: Path) -> None:
    begin, end = "<!-- BEGIN fits -->", "<!-- END fits -->"
    text = path.read_text() if path.is_file() else "# Deep Image Prior: every fit\n\n" + begin + "\n" + end + "\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + begin + "\n" + table + "\n" + end + tail)


def speed(args) -> None:
    """Seconds per step of each recipe at --size on --device (--speed-steps timed after 3 warm-up steps)."""
    from gankit.loop import LoopSettings, Trainer
    clean = photo(args.images[0], args.size)
    precisions = ["fp32", "bf16"] if args.device.startswith("cuda") else ["fp32"]
    for cell in ("text", "pixels50", "noise25", "sr4"):
        for precision in precisions:
            cfg = load_restore_config(recipe_for(cell, args.recipes), [*args.set, f"precision={precision}",
                                                                       f"device={args.device}", "early_stop=watch"])
            from gankit.restore.game import DIPGame
            from gankit.restore.run import device_info
            game = DIPGame(cfg, corrupted(cell, clean)[0], device_info(cfg))
            trainer = Trainer(game, None, LoopSettings(steps=3, log_every=3))
            trainer.run(progress=False)
            trainer.settings.steps = 3 + args.speed_steps
            started = time.perf_counter()
            trainer.run(progress=False)   # the last log interval syncs the device
            per_step = (time.perf_counter() - started) / args.speed_steps
            print(f"{recipe_for(cell, args.recipes):20s} {args.size} px {precision}: {1000 * per_step:8.1f} ms/step; "
                  f"{cfg.iterations} steps = {cfg.iterations * per_step:6.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="photo size for DIP (px)")
    p.add_argument("--baseline-sizes", default="128,256", help="sizes at which the classical methods run")
    p.add_argument("--images", default=",".join(IMAGES), help=f"comma-separated, from {', '.join(IMAGES)}")
    p.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated, from {', '.join(CELLS)}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--recipes", choices=("cpu", "dip"), default="cpu", help="cpu_* or the paper's dip_* recipes")
    p.add_argument("--set", action="append", default=[], help="override for every DIP fit (key=value)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--rows", type=Path, default=ROOT / "docs" / "records" / "restore_rows.jsonl",
                   help="the rows of every fit (committed: the page is rendered from them alone)")
    p.add_argument("--fresh", action="store_true", help="start the rows file over")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--merge", type=Path, default=None, metavar="ROWS",
                   help="add the fits of another run's rows file that --rows lacks (and their strips, from img/ "
                        "beside it), then render")
    p.add_argument("--doc", type=Path, default=None, help="write the section to this file instead of docs/results.md")
    p.add_argument("--experiments", type=Path, default=ROOT / "docs" / "experiments" / "restore.md")
    p.add_argument("--pictures", type=Path, default=ROOT / "docs" / "img", help="folder for restore_*.png strips")
    p.add_argument("--workers", type=int, default=1, help="DIP fits run side by side in this many processes")
    p.add_argument("--budget-s", type=float, default=None,
                   help="start no DIP fit that would end after this many seconds (by the seconds per step seen)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument("--speed", action="store_true", help="only time each recipe's steps")
    p.add_argument("--speed-steps", type=int, default=20)
    args = p.parse_args()
    args.images = args.images.split(",")
    args.cells = [c for c in args.cells.split(",") if c]
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True   # fixed sizes: let cuDNN pick its fastest convolutions
    if args.speed:
        speed(args)
        return
    if args.fresh and args.rows.is_file() and not args.worker:
        args.rows.unlink()
    done = {key(r) for r in read_rows(args.rows)}
    jobs = dip_jobs(args.images, args.size, args.cells, args.seeds, args.recipes, args.set)
    strip_dir = Path(tempfile.mkdtemp(prefix="restore_strips_"))
    if args.worker:   # a child process: takes fits from the shared queue
        work(args, jobs, done, strip_dir)
        _copy_strips(strip_dir, args.pictures)
        return
    if args.merge:
        taken = merge(args.merge, args.rows, args.pictures)
        print(f"{len(taken)} rows of {args.merge} added to {args.rows}", flush=True)
    elif not args.render_only:
        try:
            measure(args, jobs, done, strip_dir)
        except KeyboardInterrupt:   # the rows that finished are on disk: render them
            print("stopped: rendering the rows that finished", flush=True)
    rows = read_rows(args.rows)
    command = "python benchmarks/restore.py " + " ".join(_passed_args(keep_render=False))
    sys.path.insert(0, str(Path(__file__).parent))
    from results_doc import RESULTS, update_section
    doc = args.doc or RESULTS
    section, table = render(rows, command.strip(), args.pictures, doc.parent)
    write_experiments(table, args.experiments)
    doc.parent.mkdir(parents=True, exist_ok=True)
    print(f"wrote the restore section to {update_section('restore', section, doc)}")


def measure(args, jobs: list[dict], done: set, strip_dir: Path) -> None:
    """The classical methods here, the DIP fits here or in --workers child processes."""
    if args.budget_s:
        args.deadline = time.time() + args.budget_s
    drop_stale_claims(args)
    children = []
    if args.workers > 1:
        base_cmd = [sys.executable, __file__, *_passed_args(), "--deadline", str(args.deadline or 0)]
        children = [subprocess.Popen([*base_cmd, "--worker"]) for _ in range(args.workers)]
    try:
        if not args.skip_baselines:
            sizes = sorted({args.size, *map(int, args.baseline_sizes.split(","))})
            for row in baseline_rows(args.images, sizes, args.cells, done):
                append(args.rows, row)
        if not children:
            work(args, jobs, done, strip_dir)
            _copy_strips(strip_dir, args.pictures)
    finally:
        for child in children:   # they got the same Ctrl-C and end their fit without reporting it
            child.wait()


def _passed_args(keep_render: bool = True) -> list[str]:
    """This command line's arguments, without the ones only this invocation needs."""
    out, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a in ("--workers", "--budget-s", "--doc", "--deadline", "--merge"):
            skip = True
            continue
        if a in ("--fresh", "--worker") or (not keep_render and a == "--render-only"):
            continue
        out.append(a)
    return out


def _copy_strips(strip_dir: Path, pictures: Path) -> None:
    for strip in strip_dir.glob("*_strip.png"):
        pictures.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(strip, pictures / f"restore_{strip.name.removesuffix('_strip.png')}.png")
    shutil.rmtree(strip_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
