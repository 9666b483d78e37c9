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

This file runs the fits; restore_rows.py holds the cells and the rows file, restore_page.py renders the page.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
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

from restore_page import render, write_experiments
from restore_rows import CELLS, DEFAULT_SIZE, IMAGES, TASK, append, key, merge, read_rows, row_stem

ROOT = Path(__file__).resolve().parents[1]
SIGMA = 25 / 255


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
