"""The restore benchmark's page: its section of docs/results.md (the tables, verdicts and strips, rendered from
the rows alone) and the table of every fit in docs/experiments/restore.md."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from gankit.restore import BASELINES, load_restore_config

from restore_rows import (CELL_NAMES, CELLS, DEFAULT_SIZE, IMAGES, STRONGEST, TASK, as_shipped, classical, key,
                          picture_stem)


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
            early = [r for r in fits if r["best_step"] < EARLY * r["iterations_planned"]]
            if len(early) > len(fits) / 2:
                out += [peaked_early(fits, early), ""]
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


def _how_many(some: list[dict], fits: list[dict]) -> str:
    return "every fit" if len(some) == len(fits) else f"{len(some)} of {len(fits)} fits"


LATE = 0.95   # a fit whose best PSNR comes after this share of its steps was likely still rising


def too_short(fits: list[dict], late: list[dict], changed: list[dict]) -> str:
    """What the page says of a table where most fits peaked in their last steps: a guess, or what a longer run of
    the same recipe, photo and seed measured."""
    which = _how_many(late, fits)
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


EARLY = 0.5   # a fit whose best PSNR comes before this share of its steps lost ground over the rest of its run


def peaked_early(fits: list[dict], early: list[dict]) -> str:
    """What the page says of a table where most fits peaked in their first half and went downhill after."""
    which = _how_many(early, fits)
    fired = sum(1 for r in fits if r["es_fired_at"])
    lost = statistics.mean(es_gaps(early))
    return (f"The best PSNR came in the first {round(100 * EARLY)} % of the steps in {which} here, and those fits' "
            f"ES picks lie {lost:.2f} dB below it on average: the output got worse after its best, and the rule "
            f"fired in {fired} of {len(fits)} fits.")


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
