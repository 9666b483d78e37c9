"""Private synthetic tables: utility and leakage of the DP AC-GAN against noisy-histogram baselines.

For both built-in tables (breast cancer, diabetes) and epsilon in {0.5, 1, 3, 10, inf}, five
seeds each: fit the GAN (gankit.privacy) and two private baselines at the same (epsilon,
delta) (independent per-column noisy histograms, and the same per target class), draw as
many synthetic rows as there are training rows, and measure

* TSTR AUROC: train on synthetic, test on the real held-out rows; the mean over logistic
  regression, random forest and gradient boosting (then mean and std over seeds);
* TRTR AUROC: the same classifiers trained on the real training rows;
* detection AUROC: a random forest telling real training rows from synthetic ones;
* MIA AUROC: the distance membership-inference attack of gankit.privacy.report;
* the epsilon spent, read back from Opacus' RDP accountant.

Run (about 40-60 min on one CPU thread of a machine shared with three other jobs):

    python benchmarks/privacy_tables.py                       # its section of docs/results.md
    python benchmarks/privacy_tables.py --render-only         # re-render from the saved rows

Rows are appended to --rows (default docs/records/privacy_rows.jsonl, committed) as they finish, so a
killed run keeps them and a rerun continues; --fresh starts over. The table's cells also go to
docs/records/privacy.json, which the summary at the top of docs/results.md reads.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.privacy import SynthConfig, fit, load_example
from gankit.privacy.baseline import HistogramSynthesizer
from gankit.privacy.report import CLASSIFIERS, detection_auroc, privacy_audit, utility
from results_doc import update_section

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("breast-cancer", "diabetes")
EPSILONS = (0.5, 1.0, 3.0, 10.0, math.inf)
DELTA = 1e-5
GAN = dict(steps=400, hidden=64, batch_size=64)   # the benchmark's GAN settings (also in the page)
METHODS = ("GAN", "hist", "hist|y")


def mean_tstr_auroc(u: dict) -> float:
    values = [u[c]["tstr"]["auroc"] for c in CLASSIFIERS]
    return float(np.mean([0.5 if v is None else v for v in values]))  # a one-class synthetic set: chance


def measure(model, train, hold, seed: int) -> dict:
    synthetic = model.sample(len(train), seed=seed)
    u = utility(synthetic, train, hold, seed)
    return {"tstr_auroc": mean_tstr_auroc(u), "tstr_by_classifier": {c: u[c]["tstr"]["auroc"] for c in CLASSIFIERS},
            "detection_auroc": detection_auroc(train, synthetic, seed, folds=3),
            "mia_auroc": privacy_audit(synthetic, train, hold, seed)["mia_auroc"],
            "epsilon_spent": model.privacy["epsilon_spent"]}


def run(out_jsonl: Path, seeds: int, epsilons, tables, steps: int) -> None:
    done = {(r["table"], r["epsilon"], r["method"], r["seed"]) for r in read_rows(out_jsonl)}
    splits = {name: load_example(name) for name in tables}
    for name, (train, hold) in splits.items():
        if (name, "trtr", "real", 0) not in done:
            u = utility(train, train, hold, 0)
            append(out_jsonl, {"table": name, "epsilon": "trtr", "method": "real", "seed": 0,
                               "trtr_auroc": float(np.mean([u[c]["trtr"]["auroc"] for c in CLASSIFIERS])),
                               "by_classifier": {c: u[c]["trtr"]["auroc"] for c in CLASSIFIERS}})
    # seeds outermost: a run stopped early still has every (table, epsilon) cell, with fewer seeds
    for seed in range(seeds):
        for name, (train, hold) in splits.items():
            for eps in epsilons:
                for method in METHODS:
                    eps_key = "inf" if math.isinf(eps) else eps
                    if (name, eps_key, method, seed) not in done:
                        one_cell(out_jsonl, name, train, hold, eps, eps_key, method, seed, steps)


def one_cell(out_jsonl: Path, name: str, train, hold, eps: float, eps_key, method: str, seed: int,
             steps: int) -> None:
    start = time.time()
    if method == "GAN":
        model = fit(train, SynthConfig(epsilon=eps, delta=DELTA, seed=seed, **{**GAN, "steps": steps}))
    else:
        model = HistogramSynthesizer(train.schema, epsilon=eps, delta=DELTA, seed=seed,
                                     conditional=method == "hist|y").fit(train)
    row = {"table": name, "epsilon": eps_key, "method": method, "seed": seed,
           **measure(model, train, hold, seed), "seconds": round(time.time() - start, 1)}
    append(out_jsonl, row)
    print(f"{name:14s} eps={eps_key!s:4s} {method:7s} seed {seed}: TSTR {row['tstr_auroc']:.3f} "
          f"det {row['detection_auroc']:.3f} MIA {row['mia_auroc']:.3f} "
          f"eps spent {row['epsilon_spent']} ({row['seconds']} s)", flush=True)


def append(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _ms(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "n/a"


def render(rows: list[dict], command: str, seconds: float | None, provenance: str = "") -> str:
    lines = ["# Private synthetic tables: DP AC-GAN vs noisy histograms", "",
             f"Command: `{command}`{provenance}", "",
             f"Machine: {platform.machine()}, torch {torch.__version__}, 1 CPU thread shared with other jobs"
             + (f"; wall time {seconds / 60:.1f} min." if seconds else "."), "",
             f"GAN settings: {GAN['steps']} steps, expected batch {GAN['batch_size']} real + {GAN['batch_size']} "
             f"generated rows, hidden width {GAN['hidden']}, clipping 1.0, delta {DELTA:g}, 5 fixed-grid modes per "
             f"number; the noise multiplier is calibrated so the accountant spends the target epsilon (10 % of it, "
             f"alone, goes to the noisy class counts). Baselines: `hist` = independent per-column noisy histograms "
             f"(20 bins per number, the target a column like the others), `hist|y` = the same per target class "
             f"with noisy class counts (a private naive Bayes); one Gaussian mechanism each at the same "
             f"(epsilon, delta).", "",
             "TSTR AUROC = mean over logistic regression, random forest and gradient boosting, trained on as many "
             "synthetic rows as real training rows and tested on the real held-out rows; mean ± std over seeds. "
             "Detection and MIA AUROC: 0.5 is ideal. Epsilon spent: read back from Opacus' RDP accountant.", ""]
    for name in TABLES:
        trtr = [r for r in rows if r["table"] == name and r["method"] == "real"]
        if not trtr:
            continue
        train, hold = load_example(name)
        lines += [f"## {name} ({len(train)} train / {len(hold)} held-out rows)", "",
                  f"TRTR AUROC (real training rows): **{trtr[0]['trtr_auroc']:.3f}** "
                  f"({', '.join(f'{c} {v:.3f}' for c, v in trtr[0]['by_classifier'].items())}).", "",
                  "| epsilon | spent | GAN TSTR AUROC | hist TSTR | hist\\|y TSTR | GAN detection | hist\\|y detection "
                  "| GAN MIA | hist\\|y MIA | GAN beats hist / hist\\|y? | seeds |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for eps in ["inf" if math.isinf(e) else e for e in EPSILONS]:
            sel = {m: [r for r in rows if r["table"] == name and r["epsilon"] == eps and r["method"] == m]
                   for m in METHODS}
            if not sel["GAN"]:
                continue
            t = {m: [r["tstr_auroc"] for r in sel[m]] for m in METHODS}
            spent = sel["GAN"][0]["epsilon_spent"]
            verdict = " / ".join(_beats(t["GAN"], t[m]) for m in ("hist", "hist|y"))
            lines.append(
                f"| {'∞' if eps == 'inf' else eps} | {spent if spent == 'inf' else f'{spent:.3f}'} | "
                f"{_ms(t['GAN'])} | {_ms(t['hist'])} | {_ms(t['hist|y'])} | "
                f"{_ms([r['detection_auroc'] for r in sel['GAN']])} | "
                f"{_ms([r['detection_auroc'] for r in sel['hist|y']])} | {_ms([r['mia_auroc'] for r in sel['GAN']])} "
                f"| {_ms([r['mia_auroc'] for r in sel['hist|y']])} | {verdict} | {len(sel['GAN'])} |")
        lines.append("")
    return "\n".join(lines + _verdict(rows) + [NOTES])


def _verdict(rows: list[dict]) -> list[str]:
    """The issue's bar, counted: does the GAN beat each baseline at epsilon >= 3?"""
    out = ["## Against the bar: GAN vs baselines at epsilon >= 3", ""]
    for base in ("hist", "hist|y"):
        cells = []
        for name in TABLES:
            for eps in (3.0, 10.0):
                t = {m: [r["tstr_auroc"] for r in rows if r["table"] == name and r["epsilon"] == eps
                         and r["method"] == m] for m in ("GAN", base)}
                if t["GAN"] and t[base]:
                    cells.append(f"{name} eps {eps:g}: {np.mean(t['GAN']):.3f} vs {np.mean(t[base]):.3f} "
                                 f"({_beats(t['GAN'], t[base]).strip('*')})")
        out.append(f"* GAN vs `{base}`: " + "; ".join(cells) + ".")
    return out + [""]


NOTES = """## Reading the numbers

* The verdicts above are computed from the tables: "yes" when the GAN's mean TSTR AUROC is more
  than 0.01 above the baseline's, "tie" within 0.01, "no" below.
* The privacy accounting is exact bookkeeping, not a measurement: "spent" is what Opacus' RDP
  accountant returns for the releases made (one noisy class count vector, then every DP-SGD step
  at its sample rate and noise multiplier), and the noise is calibrated to land just under the
  target. The membership-inference AUROC is a measurement, of one attack; the audit does flag a
  deliberately overfit model (tests/test_privacy.py).
* `hist` is the baseline the issue names: columns sampled independently, so its TSTR AUROC is
  the luck of which direction a classifier trained on label-free noise happens to point: a
  wide spread around 0.5. `hist|y` is the same budget spent on per-class histograms: a private
  naive Bayes, close to the right model for these two small tables. Per-class marginals cannot
  do better than naive Bayes; the GAN is the only method here that can learn relations between
  columns, and it pays for all of them out of the same noisy gradients.
* Detection AUROC near 1 means a random forest spots synthetic rows easily (on breast cancer,
  radius, perimeter and area obey near-exact geometric relations that no generator here
  reproduces). Treat the synthetic rows as useful for modelling, not as indistinguishable from
  patients.
* One GAN setting for every epsilon (no per-epsilon tuning): more steps need more noise at the
  same epsilon, fewer learn too little.
"""


def write_record(rows: list[dict], command: str) -> None:
    """docs/records/privacy.json: TSTR AUROC per table, epsilon and method (mean, std, seeds)."""
    tables = {}
    for name in TABLES:
        trtr = [r for r in rows if r["table"] == name and r["method"] == "real"]
        if not trtr:
            continue
        train, hold = load_example(name)
        cells = {}
        for eps in ["inf" if math.isinf(e) else e for e in EPSILONS]:
            sel = {m: [r for r in rows if r["table"] == name and r["epsilon"] == eps and r["method"] == m]
                   for m in METHODS}
            if sel["GAN"]:
                spent = sel["GAN"][0]["epsilon_spent"]
                cells[str(eps)] = {"spent": spent if spent == "inf" else round(spent, 3),
                                   **{m: [round(float(np.mean([r["tstr_auroc"] for r in sel[m]])), 3),
                                          round(float(np.std([r["tstr_auroc"] for r in sel[m]])), 3), len(sel[m])]
                                      for m in METHODS if sel[m]}}
        tables[name] = {"train_rows": len(train), "holdout_rows": len(hold),
                        "trtr_auroc": round(trtr[0]["trtr_auroc"], 3), "tstr_auroc": cells}
    if not tables:   # nothing measured here: keep the record as it is
        return
    record = {"command": command, "hardware": f"{platform.machine()}, torch {torch.__version__}, 1 CPU thread",
              "tables": tables}
    (ROOT / "docs" / "records" / "privacy.json").write_text(json.dumps(record, indent=1) + "\n")


def _beats(a: list[float], b: list[float]) -> str:
    if not a or not b:
        return "n/a"
    diff = np.mean(a) - np.mean(b)
    return "yes" if diff > 0.01 else ("tie" if diff > -0.01 else "**no**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=GAN["steps"])
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--out", type=Path, default=None, help="also write the page to this file")
    parser.add_argument("--rows", type=Path, default=ROOT / "docs" / "records" / "privacy_rows.jsonl",
                        help="JSON lines of finished measurements (a rerun skips those already there)")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="discard saved rows and start over")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows_path = args.rows
    if args.fresh:
        rows_path.unlink(missing_ok=True)
    start = time.time()
    if not args.render_only:
        run(rows_path, args.seeds, args.epsilons, args.tables, args.steps)
    GAN["steps"] = args.steps
    command = "python " + " ".join(["benchmarks/privacy_tables.py"] + [a for a in sys.argv[1:]
                                                                      if a != "--render-only"])
    text = render(read_rows(rows_path), command, None if args.render_only else time.time() - start,
                  " (rows measured earlier, page re-rendered with `--render-only`)" if args.render_only else "")
    write_record(read_rows(rows_path), command)
    # one level down: the page becomes the "privacy" section of docs/results.md
    update_section("privacy", text.replace("\n## ", "\n### ").replace("# ", "## ", 1))
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
