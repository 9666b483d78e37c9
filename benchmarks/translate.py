"""CycleGAN on the digit domains: translated accuracy against the no-translation baseline, per direction.

    GANKIT_DATA=../shared/data python benchmarks/translate.py                     # one seed, CPU recipe
    GANKIT_DATA=../shared/data python benchmarks/translate.py --seeds 3 --first-seed 1
    python benchmarks/translate.py --collect                                     # only rewrite the page

Two runs cover the four directions: MNIST <-> digits and MNIST <-> MNIST-M (a CycleGAN learns both
ways at once). Each run's last scores (gankit.translate.scores: a target-domain evaluation
classifier on translated *test* images; the same classifier on untranslated ones; cycle L1; FID on
that classifier's features) go to the committed record docs/records/translate.json, and the page to
its section of docs/results.md, with sample strips in docs/img/. Published anchors (CyCADA, Hoffman et
al. 2018): MNIST -> USPS 95.6 %, USPS -> MNIST 96.5 %, SVHN -> MNIST 90.4 %.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import torch

from gankit.checkpoint import atomic_write_text
from gankit.runs import machine_description
from gankit.translate import load_translate_config, train_translation
from results_doc import RESULTS, update_section

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "records" / "translate.json"
PAIRS = {"mnist-digits": ("mnist", "digits"), "mnist-mnistm": ("mnist", "mnist-m")}
TARGET_MNISTM = 0.90     # the bar for MNIST -> MNIST-M


def run_pair(pair: str, seed: int, args) -> dict:
    a, b = PAIRS[pair]
    overrides = [f"domain_a={a}", f"domain_b={b}", f"seed={seed}", f"device={args.device}"] + args.set
    if args.data_root:
        overrides.append(f"data_root={args.data_root}")
    cfg = load_translate_config(args.recipe, overrides)
    run = args.runs / f"{pair}-{args.recipe}-s{seed}"
    resume = (run / "checkpoints").is_dir()
    result = train_translation(cfg, run_dir=run, resume=resume, progress=args.progress)
    strip = sorted((run / "samples").glob("step_*.png"))
    if strip:
        images = args.doc.parent / "img"
        images.mkdir(parents=True, exist_ok=True)
        shutil.copy(strip[-1], images / f"translate_{pair}_s{seed}.png")
    return {"pair": pair, "domain_a": a, "domain_b": b, "seed": seed, "recipe": args.recipe, "overrides": args.set,
            "steps": result.step, "finished": not result.interrupted, "wall_seconds": round(result.wall_seconds, 1),
            "machine": machine_description(cfg.device if cfg.device != "auto" else "cpu"), "scores": result.scores,
            "command": run_command(args.recipe, pair, seed, 1, args.set)}


def run_command(recipe: str, pair: str, first_seed: int, seeds: int, overrides: list[str]) -> str:
    """The command that trains these seeds of one pair (a record's row, or a row averaging several)."""
    return (f"python benchmarks/translate.py --recipe {recipe} --pairs {pair} --first-seed {first_seed} "
            f"--seeds {seeds}" + "".join(f" --set {s}" for s in overrides))


def read_record(record: Path = RECORD) -> list[dict]:
    return json.loads(record.read_text()) if record.is_file() else []


def save_rows(rows: list[dict], record: Path = RECORD) -> None:
    old = {(r["pair"], r["recipe"], r["seed"], tuple(r["overrides"])): r for r in read_record(record)}
    for r in rows:
        old[(r["pair"], r["recipe"], r["seed"], tuple(r["overrides"]))] = r
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps(sorted(old.values(), key=lambda r: (r["pair"], r["recipe"], r["seed"])),
                                         indent=1) + "\n")


def _ms(values: list[float]) -> str:
    values = [100 * v for v in values]
    return f"{values[0]:.1f} %" if len(values) == 1 else \
        f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} %"


def markdown(rows: list[dict], images: Path = ROOT / "docs" / "img") -> str:
    lines = ["# Unpaired translation (CycleGAN) on the digit domains", "",
             "Produced by `benchmarks/translate.py`. A CycleGAN trains between two domains (both directions at "
             "once); every few hundred steps, and after the last, a classifier trained only for evaluation on the "
             "*target* domain's labelled training images classifies translated *source test* images, scored "
             "against their source labels (the CyCADA protocol). 'Untranslated' is the same classifier on the "
             "source test images as they are; 'target's own' is its accuracy on the target's test images (the "
             "ceiling). Cycle L1: mean |x - G(G(x))| on test images in [-1, 1]. FID on that classifier's "
             "features, translated vs real target test images. Nothing here chose a checkpoint: the numbers are "
             "those of the last step.", "",
             "Published anchors (CyCADA, Hoffman et al. 2018, other domain pairs): MNIST -> USPS 95.6 %, "
             "USPS -> MNIST 96.5 %, SVHN -> MNIST 90.4 %.", "",
             "| direction | recipe | seeds | steps | translated accuracy | untranslated | target's own | gain | "
             "cycle L1 | FID | wall time per run | machine |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["pair"], r["recipe"], tuple(r["overrides"])), []).append(r)
    verdicts = []
    for (pair, recipe, overrides), rs in sorted(groups.items()):
        for d in ("ab", "ba"):
            scored = [r for r in rs if f"accuracy_{d}" in r["scores"]]
            if not scored:
                continue
            a, b = scored[0]["domain_a"], scored[0]["domain_b"]
            src, tgt = (a, b) if d == "ab" else (b, a)
            acc = [r["scores"][f"accuracy_{d}"] for r in scored]
            base = [r["scores"][f"baseline_{d}"] for r in scored]
            ceiling = [r["scores"][f"ceiling_{d}"] for r in scored]
            untranslated = statistics.mean(base)
            gain = 100 * (statistics.mean(acc) - untranslated)
            unfinished = sum(not r["finished"] for r in scored)
            lines.append(f"| {src} -> {tgt} | `{recipe}`{' ' + ' '.join(overrides) if overrides else ''} | "
                         f"{len(scored)}{f' ({unfinished} unfinished)' if unfinished else ''} | "
                         f"{max(r['steps'] for r in scored)} | {_ms(acc)} | {_ms(base)} | {_ms(ceiling)} | "
                         f"{gain:+.1f} points | {statistics.mean(r['scores'][f'cycle_l1_{d}'] for r in scored):.3f} | "
                         f"{statistics.mean(r['scores'][f'fid_{d}'] for r in scored):.1f} | "
                         f"{statistics.mean(r['wall_seconds'] for r in scored) / 60:.1f} min | "
                         f"{'; '.join(sorted({r['machine'] for r in scored}))} |")
            bar = 20 if (src, tgt) == ("mnist", "mnist-m") else 0
            beats = "beats" if gain > bar else "does **not** beat"
            verdict = f"- {src} -> {tgt} (`{recipe}`): translation {beats} the no-translation baseline" + \
                      (f" by at least {bar} points" if bar else "") + f" ({gain:+.1f} points)"
            if bar and 100 * untranslated + bar > 100:
                verdict += (f": a gain of {bar} points cannot happen under this protocol, since the {tgt} classifier "
                            f"already reads {100 * untranslated:.1f} % of the untranslated {src} images (the "
                            f"hard case of the usual {src} -> {tgt} adaptation, a {src} classifier on {tgt} images, "
                            f"is the {tgt} -> {src} row's untranslated column)")
            if (src, tgt) == ("mnist", "mnist-m"):
                reached = statistics.mean(acc)
                verdict += f"; {'reaches' if reached >= TARGET_MNISTM else 'does **not** reach'} 90 % " \
                           f"({100 * reached:.1f} %)"
            verdicts.append(verdict + ".")
    pictures = [f"![{p.stem}](img/{p.name})" for p in sorted(images.glob("translate_*.png"))]
    lines += ["", "Against the bars (issue: every direction clearly above its baseline, at least 20 points and 90 % "
              "on MNIST -> MNIST-M):", "", *verdicts, "",
              "Sample strips (rows: A, A -> B, A -> B -> A, B, B -> A, B -> A -> B; fixed test images, last step):",
              "", *pictures, "", "Commands:", "", *sorted({f"    GANKIT_DATA=../shared/data {r['command']}"
                                                           for r in rows}), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="cyclegan_cpu")
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root", default=os.environ.get("GANKIT_DATA"))
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "translate")
    parser.add_argument("--doc", type=Path, default=RESULTS)
    parser.add_argument("--record", type=Path, default=RECORD, help="the committed record of every run shown")
    parser.add_argument("--collect", action="store_true", help="train nothing; rewrite the page from the record")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.collect:
        for pair in args.pairs:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                start = time.time()
                row = run_pair(pair, seed, args)
                save_rows([row], args.record)
                print(f"{pair} seed {seed}: {json.dumps({k: v for k, v in row['scores'].items() if k != 'warning'})} "
                      f"({(time.time() - start) / 60:.1f} min)", flush=True)
    text = markdown(read_record(args.record), args.doc.parent / "img")
    update_section("translate", text.replace("\n## ", "\n### ").replace("# ", "## ", 1), args.doc)
    print(text)


if __name__ == "__main__":
    main()
