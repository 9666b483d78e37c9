"""Real-vs-generated detection (issue 28): the leave-one-generator-out AP / accuracy matrix.

    GANKIT_DATA=../shared/data python benchmarks/detect.py generators --datasets mnist        # 1. the GANs
    GANKIT_DATA=../shared/data python benchmarks/detect.py matrix --datasets mnist --seeds 0 1 2   # 2. detectors
    python benchmarks/detect.py doc                                                            # 3. the page

1. ``generators``: each gankit recipe of benchmarks/gan_table.py that the issue names (2014 MLP,
   DCGAN, WGAN-GP, hinge + spectral norm, conditional) trained briefly on the CPU (GENERATOR_STEPS),
   then its FID on gankit's domain backbone with ``gankit evaluate``'s protocol, n = 2000; on MNIST
   also a CycleGAN between MNIST and the 8x8 digits (TRANSLATION), whose digits -> MNIST translations
   are tested on and never learnt from.
2. ``matrix``: per dataset and seed, one detector (recipe wang2020_small) per generator, trained on
   that generator's samples, plus one per generator trained on all the others (leave one out);
   each scored with gankit.detect.evaluate_detector on 2000 real test images and 2000 samples
   (noise seed 0, never a training seed) of every generator, clean and perturbed, beside the
   spectrum and pixel baselines fitted on the same training images.
3. ``doc``: the section ``detect`` of docs/results.md, docs/experiments/detect.md and
   docs/img/detect_*.png, from the cells in ``--runs`` and the committed record
   docs/records/detect.json (run folders are git-ignored; the record keeps what they measured).

Everything is resumable: a finished generator or cell is not redone, a stopped training resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from gankit.checkpoint import atomic_write_text, list_checkpoints
from gankit.config import load_config
from gankit.detect import CNN, evaluate_detector, load_detect_config, train_detector
from gankit.evaluate import evaluate
from gankit.runs import machine_description
from gankit.train import train
from gan_table import RECIPES
from results_doc import RESULTS, update_section

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "records" / "detect.json"
EXPERIMENTS = ROOT / "docs" / "experiments" / "detect.md"
IMAGES = ROOT / "docs" / "img"
# The held-out gankit generators and how long each trains here: short CPU runs, so the generators
# are weak (their FIDs are on the page). The 2014 MLP is ten times cheaper per step; WGAN-GP's five
# critic steps make it five times dearer.
GENERATOR_STEPS = {"gan2014": 10000, "dcgan": 2000, "wgangp": 1000, "hinge_sn": 2000, "conditional": 2000}
# Tested on, never learnt from: CycleGAN translations of scikit-learn's 8x8 digits into MNIST (every
# digits image, train and test splits; the CPU recipe between MNIST and digits at MNIST's 28 x 28 grey,
# direction b2a). MNIST only: gankit has no translation into Fashion-MNIST.
TRANSLATION = {"label": "cyclegan", "dataset": "mnist", "recipe": "cyclegan_cpu",
               "overrides": ["domain_b=digits", "image_size=28", "channels=1"]}
SOURCES = [*GENERATOR_STEPS, TRANSLATION["label"]]   # the matrix's columns, in order
DATASETS = ("mnist", "fashion-mnist")
FID_SAMPLES = 2000
DETECTOR_RECIPE = "wang2020_small"
N_EVAL = 2000
LOGO = "without-"   # row prefix of a detector trained on every generator but one


def command_line(argv: list[str] | None = None) -> str:
    """This invocation (or ``argv``), less the options that change no number: where the page goes,
    waiting, quiet."""
    args, kept = list(sys.argv[1:] if argv is None else argv), []
    while args:
        arg = args.pop(0)
        if arg == "--doc":
            args.pop(0)
        elif arg not in ("--wait", "--quiet"):
            kept.append(arg)
    return " ".join(["python", "benchmarks/detect.py", *kept])


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


# --- 1. generators -------------------------------------------------------------------

def generator_dir(runs: Path, label: str, dataset: str) -> Path:
    return runs / "generators" / f"{label}-{dataset}"


def generator_ready(runs: Path, label: str, dataset: str) -> bool:
    """Trained to its steps and scored (a generator still training or being extended is not)."""
    path = generator_dir(runs, label, dataset) / "generator.json"
    if not path.is_file():
        return False
    row = json.loads(path.read_text())
    return row.get("steps") == GENERATOR_STEPS[label] and row.get("fid") is not None


def train_generator(label: str, dataset: str, args) -> dict:
    """Train (or finish) one generator, then its FID on n = 2000; its row goes to generator.json."""
    recipe, extra = RECIPES[label]
    steps = GENERATOR_STEPS[label]
    overrides = [f"data.name={dataset}", *extra, f"train.steps={steps}", "train.eval_every=0",
                 "train.ckpt_every=250", "train.keep_ckpts=2"]
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    cfg = load_config(recipe, overrides)
    run_dir = generator_dir(args.runs, label, dataset)
    row_path = run_dir / "generator.json"
    row = json.loads(row_path.read_text()) if row_path.is_file() else {}
    done = list_checkpoints(run_dir / "checkpoints")
    if not done or json.loads(done[-1].read_text())["step"] < steps:
        result = train(cfg, run_dir=run_dir, resume=bool(done), progress=not args.quiet)
        if result.interrupted:
            raise SystemExit(f"{run_dir}: stopped at step {result.step}; run the same command again to resume")
        row = {"machine": machine_description("cpu"), "command": command_line()}
    if row.get("fid") is None:
        metrics = evaluate(run_dir, n=FID_SAMPLES, data_root=args.data_root, parzen=False, progress=not args.quiet)
        row["fid"] = metrics["quality"]["generated"]["fid"]
        row["fid_floor"] = metrics["quality"]["floor"]["fid"]
    last = json.loads(list_checkpoints(run_dir / "checkpoints")[-1].read_text())
    row.update({"label": label, "dataset": dataset, "recipe": recipe, "overrides": extra, "steps": last["step"],
                "recipe_steps": load_config(recipe, [f"data.name={dataset}", *extra]).train.steps,
                "train_s": last.get("wall_seconds"), "fid_samples": FID_SAMPLES})
    atomic_write_text(row_path, json.dumps(row, indent=1) + "\n")
    return row


def translations_dir(runs: Path) -> Path:
    """The translated images, a folder named so that reports call the source cyclegan-mnist."""
    return runs / "translations" / f"{TRANSLATION['label']}-{TRANSLATION['dataset']}"


def translation_ready(runs: Path) -> bool:
    path = generator_dir(runs, TRANSLATION["label"], TRANSLATION["dataset"]) / "generator.json"
    return path.is_file() and translations_dir(runs).is_dir()


def train_translation_source(args) -> dict:
    """Train (or finish) the CycleGAN, then write every digits image translated into MNIST as a PNG."""
    from PIL import Image

    from gankit.translate import load_translate_config, train_translation
    from gankit.translate.apply import load_translator
    from gankit.translate.domains import load_domain
    from gankit.detect.images import to_float, to_uint8
    label, dataset = TRANSLATION["label"], TRANSLATION["dataset"]
    overrides = [*TRANSLATION["overrides"], "seed=0"] + ([f"data_root={args.data_root}"] if args.data_root else [])
    cfg = load_translate_config(TRANSLATION["recipe"], overrides)
    run_dir = generator_dir(args.runs, label, dataset)
    result = train_translation(cfg, run_dir=run_dir, resume=bool(list_checkpoints(run_dir / "checkpoints")),
                               progress=not args.quiet)
    if result.interrupted:
        raise SystemExit(f"{run_dir}: stopped at step {result.step}; run the same command again to resume")
    G, _, _ = load_translator(run_dir, "b2a")
    out = translations_dir(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for split in ("train", "test"):
        x = load_domain("digits", split, cfg.image_size, cfg.channels).x
        with torch.no_grad():
            y = torch.cat([to_uint8(G(to_float(batch))) for batch in x.split(256)])
        for image in y:
            Image.fromarray(image[0].numpy()).save(out / f"{split}-{count:05d}.png")
            count += 1
    last = json.loads(list_checkpoints(run_dir / "checkpoints")[-1].read_text())
    row = {"label": label, "dataset": dataset, "recipe": TRANSLATION["recipe"], "overrides": TRANSLATION["overrides"],
           "steps": last["step"], "recipe_steps": last["step"], "train_s": last.get("wall_seconds"),
           "fid": result.scores.get("fid_ba"), "fid_floor": None, "fid_samples": cfg.eval_samples,
           "images": count, "machine": machine_description("cpu"), "command": command_line()}
    atomic_write_text(run_dir / "generator.json", json.dumps(row, indent=1) + "\n")
    return row


def held_out_only(runs: Path, dataset: str) -> dict[str, Path]:
    """The sources no detector learns from that are ready for ``dataset`` (label -> image folder)."""
    if dataset == TRANSLATION["dataset"] and translation_ready(runs):
        return {TRANSLATION["label"]: translations_dir(runs)}
    return {}


# --- 2. the matrix -------------------------------------------------------------------

def matrix_rows() -> list[tuple[str, list[str]]]:
    """(row name, the generators its detector learns from): one each, then all but one each."""
    labels = list(GENERATOR_STEPS)
    return [(g, [g]) for g in labels] + [(LOGO + g, [o for o in labels if o != g]) for g in labels]


def _compact(results: dict, dataset: str) -> dict:
    """Report results with sources renamed from run folders to generator labels, numbers rounded."""
    suffix = f"-{dataset}"
    return {method: {p: {source.removesuffix(suffix): {k: round(v, 5) for k, v in r.items()}
                         for source, r in by_source.items()}
                     for p, by_source in by_p.items()}
            for method, by_p in results.items()}


def run_cell(dataset: str, row: str, trained_on: list[str], seed: int, args) -> dict | None:
    """One detector: train it (or finish it), score it and the baselines; its cell goes to cell.json.
    None while generators are missing: it trains once its own are there, is scored once all are."""
    folder = args.runs / "detectors" / f"{dataset}-{row}-s{seed}"
    cell_path = folder / "cell.json"
    extra = held_out_only(args.runs, dataset)
    if cell_path.is_file():
        cell = json.loads(cell_path.read_text())
        if cell.get("n") == args.n and set(extra) <= set(cell["results"][CNN]["clean"]):
            return cell   # scored on every source there is (a new one: scored again, not retrained)
    gens = {label: generator_dir(args.runs, label, dataset) for label in GENERATOR_STEPS}
    ready = {label for label in GENERATOR_STEPS if generator_ready(args.runs, label, dataset)}
    if not set(trained_on) <= ready:
        return None   # its generators are still training
    overrides = [f"real={dataset}", f"fake={json.dumps([str(gens[g]) for g in trained_on])}", f"seed={seed}",
                 f"noise_seed={1 + seed}"]
    if args.data_root:
        overrides.append(f"data_root={json.dumps(str(args.data_root))}")
    cfg = load_detect_config(DETECTOR_RECIPE, overrides)
    done = list_checkpoints(folder / "checkpoints")
    load_before = load_average()
    if not done or json.loads(done[-1].read_text())["step"] < cfg.steps:
        trained = train_detector(cfg, out=folder, resume=bool(done), progress=not args.quiet)
        if not trained.finished:
            raise SystemExit(f"{folder}: stopped at step {trained.step}; run the same command again to resume")
    if ready != set(GENERATOR_STEPS):
        return None   # trained; scored once every generator is there
    last = json.loads(list_checkpoints(folder / "checkpoints")[-1].read_text())
    report = evaluate_detector(folder, [str(p) for p in [*gens.values(), *extra.values()]], n=args.n,
                               baselines=True, data_root=args.data_root)
    cell = {"dataset": dataset, "row": row, "seed": seed, "trained_on": trained_on, "steps": last["step"],
            "n": args.n, "images": {k.removesuffix(f"-{dataset}"): v for k, v in report["images"].items()},
            "train_s": last.get("wall_seconds"), "eval_s": report["seconds"],
            "load_average": {"before": load_before, "after": load_average()},
            "machine": machine_description("cpu"), "command": command_line(),
            "results": _compact(report["results"], dataset)}
    atomic_write_text(cell_path, json.dumps(cell, indent=1) + "\n")
    return cell


# --- the record ----------------------------------------------------------------------

def gathered(runs: Path, record: Path) -> dict:
    """The record's generators and cells, each replaced by its run folder's version where that exists."""
    old = json.loads(record.read_text()) if record.is_file() else {"generators": [], "cells": []}
    gens = {(g["label"], g["dataset"]): g for g in old["generators"]}
    cells = {(c["dataset"], c["row"], c["seed"]): c for c in old["cells"]}
    for path in sorted(runs.glob("generators/*/generator.json")):
        g = json.loads(path.read_text())
        gens[(g["label"], g["dataset"])] = g
    for path in sorted(runs.glob("detectors/*/cell.json")):
        c = json.loads(path.read_text())
        cells[(c["dataset"], c["row"], c["seed"])] = c
    order = {name: i for i, (name, _) in enumerate(matrix_rows())}
    return {"generators": sorted(gens.values(), key=lambda g: (DATASETS.index(g["dataset"]),
                                                                SOURCES.index(g["label"]))),
            "cells": sorted(cells.values(), key=lambda c: (DATASETS.index(c["dataset"]), order[c["row"]],
                                                           c["seed"]))}


# --- 3. the page ---------------------------------------------------------------------

def _stat(values: list[float]) -> str:
    """Percent, mean ± std over seeds (the std only with two or more)."""
    if not values:
        return "–"
    mean = 100 * statistics.mean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def _values(cells: list[dict], row: str, method: str, perturbation: str, source: str, metric: str) -> list[float]:
    return [c["results"][method][perturbation][source][metric] for c in cells
            if c["row"] == row and source in c["results"][method][perturbation]]


def columns(cells: list[dict]) -> list[str]:
    """The sources the cells were tested on, in SOURCES order."""
    seen = {s for c in cells for s in c["results"][CNN]["clean"]}
    return [s for s in SOURCES if s in seen]


def _own_and_held_out(cells: list[dict], method: str, perturbation: str, metric: str) -> tuple[list, list, list]:
    """Per cell: the metric on its own generator, the mean on held-out ones; and the leave-one-out cells."""
    own, held, logo = [], [], []
    for c in cells:
        r = c["results"][method][perturbation]
        if c["row"].startswith(LOGO):
            logo.append(r[c["row"].removeprefix(LOGO)][metric])
        else:
            own.append(r[c["row"]][metric])
            held.append(statistics.mean(v[metric] for s, v in r.items() if s != c["row"]))
    return own, held, logo


def matrix_table(cells: list[dict], method: str, perturbation: str, metric: str) -> list[str]:
    """Rows: trained on; columns: tested on; the diagonal in bold; the leave-one-out row last."""
    labels = columns(cells)
    lines = ["| trained on ↓ / tested on → | " + " | ".join(labels) + " | mean held-out |",
             "|---|" + "---|" * (len(labels) + 1)]
    for row in GENERATOR_STEPS:
        if not any(c["row"] == row for c in cells):
            continue
        out = []
        for source in labels:
            text = _stat(_values(cells, row, method, perturbation, source, metric))
            out.append(f"**{text}**" if source == row else text)
        held = [statistics.mean(v[metric] for s, v in c["results"][method][perturbation].items() if s != row)
                for c in cells if c["row"] == row]
        lines.append(f"| {row} | " + " | ".join(out) + f" | {_stat(held)} |")
    logo = [_stat(_values(cells, LOGO + s, method, perturbation, s, metric)) for s in labels]
    if any(v != "–" for v in logo):
        held = _own_and_held_out(cells, method, perturbation, metric)[2]
        lines.append("| all the others (leave one out) | " + " | ".join(logo) + f" | {_stat(held)} |")
    return lines


def methods_table(cells: list[dict], perturbations: list[str]) -> list[str]:
    methods = list(cells[0]["results"])
    lines = ["| method | images | AP on its own generator | mean held-out AP | mean held-out accuracy "
             "| leave-one-out AP | leave-one-out accuracy |", "|---|---|---|---|---|---|---|"]
    for p in perturbations:
        for m in methods:
            own, held, logo = _own_and_held_out(cells, m, p, "ap")
            _, held_acc, logo_acc = _own_and_held_out(cells, m, p, "accuracy")
            name = f"**{m}**" if m == CNN else m
            lines.append(f"| {name} | {p} | {_stat(own)} | {_stat(held)} | {_stat(held_acc)} | {_stat(logo)} "
                         f"| {_stat(logo_acc)} |")
    return lines


def failures(cells: list[dict], dataset: str, limit: int = 8) -> list[str]:
    """Where the CNN fails, worst first: held-out or perturbed cells with AP under 90 % or accuracy
    under 60 %, averaged over seeds, with which side (real or generated) the errors fall on."""
    found = []
    rows = sorted({c["row"] for c in cells}, key=[r for r, _ in matrix_rows()].index)
    perturbations = list(cells[0]["results"][CNN])
    for row in rows:
        sources = [row.removeprefix(LOGO)] if row.startswith(LOGO) else columns(cells)
        for p in perturbations:
            for s in sources:
                mine = [c["results"][CNN][p][s] for c in cells if c["row"] == row and s in c["results"][CNN][p]]
                if not mine:
                    continue
                ap, acc = (statistics.mean(r[k] for r in mine) for k in ("ap", "accuracy"))
                if ap < 0.90 or acc < 0.60:
                    real_acc, fake_acc = (statistics.mean(r[k] for r in mine) for k in ("real_accuracy",
                                                                                         "fake_accuracy"))
                    found.append((ap, f"- trained on {row}, tested on {s}, {p}: AP {100 * ap:.1f} %, accuracy "
                                      f"{100 * acc:.1f} % (real images {100 * real_acc:.1f} % right, generated "
                                      f"{100 * fake_acc:.1f} %)"))
    found.sort()
    if not found:
        return [f"No cell of the CNN on {dataset} falls below AP 90 % or accuracy 60 %."]
    more = f" ({len(found) - limit} more in docs/experiments/detect.md)" if len(found) > limit else ""
    return [f"{len(found)} (row, generator, perturbation) cells of the CNN on {dataset} fall below AP 90 % or "
            f"accuracy 60 %; the worst{more}:", "", *[text for _, text in found[:limit]]]


OWN_AP_BAR = 0.99   # issue 28: AP on the generator a detector learnt from


def bars(cells: list[dict]) -> tuple[float, float, float] | None:
    """Issue 28's two measures on clean images: the lowest AP on a detector's own generator, and the mean
    held-out AP of the CNN and of the spectrum baseline (None without single-generator rows)."""
    own, held, _ = _own_and_held_out(cells, CNN, "clean", "ap")
    _, spectrum, _ = _own_and_held_out(cells, "spectrum LR", "clean", "ap")
    return (min(own), statistics.mean(held), statistics.mean(spectrum)) if own else None


def verdict(cells: list[dict]) -> list[str]:
    """Issue 28's bar: AP >= 99 on the generator it trained on; beats the spectrum baseline on mean held-out AP."""
    measured = bars(cells)
    if measured is None:
        return []
    worst, cnn_mean, spec_mean = measured
    return [f"- AP on the generator it was trained on (clean, every row and seed): lowest {100 * worst:.2f} % "
            f"-> {'**met** (>= 99 %)' if worst >= OWN_AP_BAR else '**not met** (< 99 %)'}.",
            f"- Mean held-out AP (clean): CNN {100 * cnn_mean:.2f} %, spectrum LR {100 * spec_mean:.2f} % -> "
            f"{'**met**: the CNN is higher' if cnn_mean > spec_mean else '**not met**: the spectrum baseline is higher'}."]


def generators_table(gens: list[dict]) -> list[str]:
    lines = ["| generator | data | recipe | steps (recipe's) | FID, n = 2000 (floor) | train min |",
             "|---|---|---|---|---|---|"]
    for g in gens:
        extra = f" + {' '.join(g['overrides'])}" if g["overrides"] else ""
        minutes = "–" if g.get("train_s") is None else f"{g['train_s'] / 60:.0f}"
        fid = f"{g['fid']:.1f} ({g['fid_floor']:.1f})" if g["fid_floor"] is not None else \
            f"{g['fid']:.1f} (translation run's, n = {g['fid_samples']})"
        lines.append(f"| {g['label']} | {g['dataset']} | `{g['recipe']}`{extra} | {g['steps']} ({g['recipe_steps']}) "
                     f"| {fid} | {minutes} |")
    return lines


def protocol(n: list[int]) -> str:
    """The setup in words, its numbers read from the detector recipe."""
    cfg = load_detect_config(DETECTOR_RECIPE, ['fake=["-"]'])
    a, m = cfg.augment, cfg.model
    return (
        f"Protocol (Wang et al. 2020, scaled down): a small CNN (gankit's domain classifier, width {m.width}, "
        f"{m.feature_dim} features, one logit; recipe `{DETECTOR_RECIPE}`) learns {cfg.n_train:,} real images of "
        f"the train split against {cfg.n_train:,} samples of one generator, with Gaussian blur (sigma ~ U[0, "
        f"{a.blur_sigma_max:g}]) on {100 * a.blur_prob:.0f} % and JPEG (quality ~ U{{{a.jpeg_quality_min}.."
        f"{a.jpeg_quality_max}}}) on {100 * a.jpeg_prob:.0f} % of the images, {cfg.steps:,} steps of "
        f"{cfg.batch_size}. It is scored on {' / '.join(map(str, n)) or 'n/a'} real images of the official test "
        "split against as many samples of each generator drawn from noise seed 0 (the training samples come from "
        "noise_seed 1 to 3, one per detector seed, never 0): "
        "average precision with generated as the positive class (sklearn), and accuracy at the fixed threshold "
        "0.5, which Wang et al. show falls long before AP does. The baselines are fitted on the same training "
        "images, each blurred / compressed once the same way: logistic regression on the log-magnitude Fourier "
        "spectrum (Durall et al. 2020, Frank et al. 2020) and 5 nearest neighbours on pixels. The leave-one-out "
        f"row trains on the other generators' samples ({cfg.n_train:,} in all, shared evenly) and is tested on "
        "the one it never saw. Numbers: mean ± std over seeds, in %. The recipe was chosen on validation images "
        "(train-split images outside the training subset, noise seed 77), never on the evaluation images.")


def load_range(cells: list[dict]) -> str:
    """The 1-minute load averages around the detector runs: other work on the 2 cores slows them down."""
    loads = [v for c in cells for v in (c.get("load_average") or {}).values() if v is not None]
    return (f"1-minute load average around the detector runs {min(loads):.1f} to {max(loads):.1f} (wall times "
            "stretch where it exceeds the cores)") if loads else "load average not recorded"


def section(data: dict) -> str:
    gens, cells = data["generators"], data["cells"]
    recorded = {c["command"] for c in cells} | {g["command"] for g in gens if g.get("command")}
    commands = sorted({command_line(c.split()[2:]) for c in recorded})
    machines = sorted({c["machine"] for c in cells} | {g["machine"] for g in gens if g.get("machine")})
    n = sorted({c["n"] for c in cells})
    lines = [
        "## Real-vs-generated detection: leave-one-generator-out (MNIST, Fashion-MNIST)", "",
        "Commands (`benchmarks/detect.py`; each resumes what exists):", "",
        *[f"    GANKIT_DATA=../shared/data {c}" for c in commands], "",
        f"Machine: {'; '.join(machines) or 'n/a'}; no GPU; {load_range(cells)}.", "",
        protocol(n), "",
        "### The generators", "",
        "Short CPU trainings (the step counts of the recipes are in parentheses), FID on gankit's domain "
        "backbone as `gankit evaluate RUN -n 2000` measures it, beside the floor of real train against real "
        "test images. **These generators are weak, and weak generators are easy to detect: better generators "
        "are harder to detect**, so every AP below is an upper bound for what this detector would do against "
        "well-trained GANs (Wang et al.'s ProGAN-trained detector falls to AP 88 on BigGAN and 64 on SAN). "
        "On MNIST a sixth source is tested on and never learnt from: scikit-learn's 8x8 digits (every image, "
        "another population of writers and scanner) translated into MNIST by gankit's CycleGAN (`cyclegan_cpu` "
        "with `domain_b=digits image_size=28 channels=1`, direction b2a); its FID is the translation run's own "
        "(digits -> MNIST against MNIST test images, n in the table). Restoration outputs are not in the "
        "matrix: a restored photo is mostly real pixels, a different question.", "",
        *generators_table(gens), ""]
    for dataset in DATASETS:
        mine = [c for c in cells if c["dataset"] == dataset]
        if not mine:
            lines += [f"### {dataset}", "", f"Not measured yet: run `python benchmarks/detect.py generators "
                      f"--datasets {dataset}` and then `python benchmarks/detect.py matrix --datasets {dataset} "
                      f"--seeds 0 1 2`.", ""]
            continue
        seeds = sorted({c["seed"] for c in mine})
        rows = sorted({c["row"] for c in mine}, key=[r for r, _ in matrix_rows()].index)
        fewer = [f"{r} ({len([c for c in mine if c['row'] == r])})" for r in rows
                 if len([c for c in mine if c["row"] == r]) < len(seeds)]
        lines += [f"### {dataset}: the CNN's AP (%), clean images", "",
                  f"Seeds {', '.join(map(str, seeds))}: {len(mine)} detectors"
                  + (f"; rows with fewer seeds: {', '.join(fewer)}" if fewer else "") + ".", "",
                  *matrix_table(mine, CNN, "clean", "ap"), "",
                  f"### {dataset}: the CNN's accuracy (%) at 0.5, clean images", "",
                  *matrix_table(mine, CNN, "clean", "accuracy"), "",
                  f"### {dataset}: the CNN beside the baselines, clean and perturbed", "",
                  "Own generator: the diagonal; held-out: each row's mean over the other sources (the other "
                  "four GANs, and on MNIST the CycleGAN translations); leave one out: the bottom row. Mean ± std "
                  "over the rows and seeds.", "",
                  *methods_table(mine, list(mine[0]["results"][CNN])), "",
                  f"![AP matrices on {dataset}](img/detect_{dataset}.png)", "",
                  f"What the detectors see (real test images, evaluation samples, one DCGAN sample perturbed): "
                  f"[docs/img/detect_examples_{dataset}.png](img/detect_examples_{dataset}.png).", "",
                  f"### {dataset}: where the CNN fails", "", *failures(mine, dataset), "",
                  f"### {dataset}: issue 28's bar", "", *verdict(mine), ""]
    lines += ["Every matrix (each method, each perturbation) and every detector's timings: "
              "[docs/experiments/detect.md](experiments/detect.md). Record: `docs/records/detect.json`.", ""]
    return "\n".join(lines)


def experiments_page(data: dict) -> str:
    lines = ["# Experiment log: real-vs-generated detection", "",
             "Written by `benchmarks/detect.py doc` with the section `detect` of [docs/results.md](../results.md). "
             "AP (%) matrices, mean ± std over seeds: rows trained on, columns tested on.", ""]
    for dataset in DATASETS:
        mine = [c for c in data["cells"] if c["dataset"] == dataset]
        if not mine:
            continue
        for method in mine[0]["results"]:
            for p in mine[0]["results"][method]:
                lines += [f"## {dataset}, {method}, {p}: AP", "", *matrix_table(mine, method, p, "ap"), "",
                          f"## {dataset}, {method}, {p}: accuracy at 0.5", "",
                          *matrix_table(mine, method, p, "accuracy"), ""]
        lines += [f"## {dataset}: every cell where the CNN fails", "", *failures(mine, dataset, 10_000), ""]
    lines += ["## Detectors", "", "| data | row | seed | steps | train s | eval s | load average before / after |",
              "|---|---|---|---|---|---|---|"]
    for c in data["cells"]:
        load = c.get("load_average") or {}
        lines.append(f"| {c['dataset']} | {c['row']} | {c['seed']} | {c['steps']} | {c['train_s']} | {c['eval_s']} "
                     f"| {load.get('before')} / {load.get('after')} |")
    return "\n".join(lines) + "\n"


def figure(cells: list[dict], dataset: str, path: Path) -> None:
    """Clean AP matrices of the three methods side by side (mean over seeds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    labels = columns(cells)
    rows = [r for r in GENERATOR_STEPS if any(c["row"] == r for c in cells)]
    methods = list(cells[0]["results"])
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 3.8), constrained_layout=True)
    for ax, method in zip(np.atleast_1d(axes), methods):
        def mean(values: list[float]) -> float:
            return 100 * statistics.mean(values) if values else float("nan")
        grid = [[mean(_values(cells, r, method, "clean", s, "ap")) for s in labels] for r in rows]
        logo = [_values(cells, LOGO + s, method, "clean", s, "ap") for s in GENERATOR_STEPS]
        names = rows + (["leave one out"] if all(logo) else [])
        grid = np.array(grid + ([[mean(_values(cells, LOGO + s, method, "clean", s, "ap")) for s in labels]]
                                if all(logo) else []))
        image = ax.imshow(grid, vmin=50, vmax=100, cmap="viridis")
        for (i, j), v in np.ndenumerate(grid):
            if v != v:   # nan: not measured (the translations have no leave-one-out row)
                continue
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="white" if v < 80 else "black", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_title(f"{method}: AP %, clean")
        ax.set_xlabel("tested on")
        ax.set_ylabel("trained on")
    fig.colorbar(image, ax=axes, shrink=0.8)
    fig.suptitle(f"{dataset}: leave-one-generator-out AP")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def examples_figure(runs: Path, dataset: str, path: Path, data_root: str | None) -> bool:
    """Eight real test images, eight evaluation samples of each generator, and one sample perturbed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.detect import EVAL_NOISE_SEED, PERTURBATIONS, generated_images, load_fake_source, real_images
    from gankit.detect.images import folder_images
    gens = {g: generator_dir(runs, g, dataset) for g in GENERATOR_STEPS}
    if not all(generator_ready(runs, g, dataset) and list_checkpoints(p / "checkpoints") for g, p in gens.items()):
        return False   # the run folders are gone (a later session): the last figure stays
    strips = {"real (test)": real_images(dataset, "test", 8, 0, data_root)}
    strips.update({g: generated_images(load_fake_source(p), 8, EVAL_NOISE_SEED) for g, p in gens.items()})
    for label, folder in held_out_only(runs, dataset).items():
        strips[label] = folder_images(folder, 8, tuple(strips["dcgan"].shape[1:]), EVAL_NOISE_SEED)
    one = strips["dcgan"][:1]
    strips["dcgan, perturbed"] = torch.cat([perturb(one) for perturb in PERTURBATIONS.values()])
    fig, axes = plt.subplots(len(strips), 1, figsize=(6, 0.9 * len(strips)), constrained_layout=True)
    for ax, (name, images) in zip(axes, strips.items()):
        ax.imshow(torch.cat(list(images[:, 0]), dim=1).numpy(), cmap="gray", vmin=0, vmax=255)
        ax.set_yticks([])
        ax.set_xticks([] if name != "dcgan, perturbed" else
                      [28 * i + 14 for i in range(len(PERTURBATIONS))], [] if name != "dcgan, perturbed" else
                      list(PERTURBATIONS), fontsize=7)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_doc(args) -> str:
    data = gathered(args.runs, args.record)
    if args.doc is None:   # first: the summary atop the page is read off the record
        atomic_write_text(args.record, json.dumps(data, indent=1) + "\n")
    text = section(data)
    doc = args.doc or RESULTS
    update_section("detect", text, path=doc, summary=doc == RESULTS)
    experiments = EXPERIMENTS if args.doc is None else args.doc.with_name("detect_experiments.md")
    atomic_write_text(experiments, experiments_page(data))
    images = IMAGES if args.doc is None else args.doc.parent
    for dataset in DATASETS:
        mine = [c for c in data["cells"] if c["dataset"] == dataset]
        if mine:
            figure(mine, dataset, images / f"detect_{dataset}.png")
        examples_figure(args.runs, dataset, images / f"detect_examples_{dataset}.png", args.data_root)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    gens = sub.add_parser("generators", help="train the GANs the detectors are measured on, and their FID")
    gens.add_argument("--only", nargs="+", choices=SOURCES, default=SOURCES)
    matrix = sub.add_parser("matrix", help="train and score the detectors, then write the page")
    matrix.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    matrix.add_argument("--rows", nargs="+", default=None, help="only these rows (e.g. dcgan without-dcgan)")
    matrix.add_argument("-n", type=int, default=N_EVAL, help="real test images and samples per generator")
    matrix.add_argument("--wait", action="store_true", help="while generators are training, come back for "
                        "the cells that wait on them (a generators command runs beside this one)")
    doc = sub.add_parser("doc", help="write the page from --runs and the record")
    for p in (gens, matrix):
        p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--quiet", action="store_true")
    for p in (gens, matrix, doc):
        p.add_argument("--data-root", default=None)
        p.add_argument("--runs", type=Path, default=Path("benchmarks/runs/detect"))
        p.add_argument("--record", type=Path, default=RECORD)
        p.add_argument("--doc", type=Path, default=None,
                       help="write the section to this file instead of docs/results.md (and the experiments "
                            "page and figures beside it; the record is then left alone)")
    args = parser.parse_args()
    if args.stage != "doc":
        torch.set_num_threads(args.threads)
    if args.stage == "generators":
        for dataset in args.datasets:
            for label in args.only:
                if label in GENERATOR_STEPS:
                    print(json.dumps(train_generator(label, dataset, args)), flush=True)
                elif dataset == TRANSLATION["dataset"]:
                    print(json.dumps(train_translation_source(args)), flush=True)
    elif args.stage == "matrix":
        known = [name for name, _ in matrix_rows()]
        wanted = args.rows or known
        unknown = [r for r in wanted if r not in known]
        if unknown:
            parser.error(f"--rows: unknown {unknown}; choose from {known}")
        while True:
            waiting = 0
            for dataset in args.datasets:
                for seed in args.seeds:
                    for row, trained_on in matrix_rows():
                        if row not in wanted:
                            continue
                        cell = run_cell(dataset, row, trained_on, seed, args)
                        waiting += cell is None
                        print(f"{dataset} {row} seed {seed}: " + ("waiting for generators" if cell is None else
                              f"train {cell['train_s']} s, eval {cell['eval_s']} s"), flush=True)
                    write_doc(args)   # after every seed: nothing measured is lost
            if not waiting or not args.wait:
                break
            time.sleep(60)
    if args.stage in ("matrix", "doc"):
        print(write_doc(args))


if __name__ == "__main__":
    main()
