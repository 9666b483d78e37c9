"""Fairness through an adversary on scikit-survival's patient tables: gankit's two games beside fairlearn.

Cases (table, protected column): flchain (sex), whas500 (gender), actg320 (sex) and actg320
(race/ethnicity, its three largest groups: white, black, hispanic; the 25 patients of the two
smallest groups are dropped, too few to estimate their rates). Targets: gankit.fair.tables.

Per case and seed (the seed also draws the split: fitting / validation / held-out rows,
stratified by group and outcome, gankit.fair.data.prepare), every method sees the same
standardized features without the protected column and is measured on the held-out rows:

* unconstrained: scikit-learn's LogisticRegression (the base learner of the next two);
* fairlearn ExponentiatedGradient (DemographicParity / EqualizedOdds, eps 0.01) over it;
  (it and the two below publish no scores: their AUROC is n/a)
* fairlearn ThresholdOptimizer over it (it also reads the group at prediction time);
* fairlearn AdversarialFairnessClassifier: logistic predictor and adversary, alpha 1, the
  same number of steps, batch size and learning rate as gankit's debiasing;
* gankit debias (Zhang et al. 2018) and gankit representation (Edwards & Storkey 2016), their
  built-in recipes: one model per adversary weight of the recipe's curve, and the weight
  chosen on the validation rows (the most accurate whose gap is within ``--gap-target``);
  and gankit debias with the group as one more input (``sensitive_as_feature``), which, like
  ThresholdOptimizer, reads the group at prediction time.

All train on the fitting rows; only gankit reads the validation rows (to choose its weight).
Then, for flchain, whas500 and actg320 (sex): gankit's DP synthesizer (gankit.privacy, the
dp_acgan recipe) at epsilon 1, 3 and inf fitted on the fitting and validation rows; the
group gap of the outcome itself (the demographic-parity difference of the labels) in real
and synthetic rows, and a logistic regression trained on synthetic rows, tested on the real
held-out rows, beside one trained on the real rows.

    python benchmarks/fairness.py --doc /tmp/fairness.md        # develop: a scratch page
    python benchmarks/fairness.py                               # its section of docs/results.md
    python benchmarks/fairness.py --render-only                 # re-render from the saved rows

Rows are appended to --rows as they finish (a killed run keeps them; a rerun continues);
--fresh starts over.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gankit.fair import keep_groups, load_fair_config, patient_table, prepare  # noqa: E402
from gankit.fair.fit import choose_weight, tradeoff  # noqa: E402
from gankit.fair.metrics import fairness_metrics  # noqa: E402
from gankit.privacy.schema import Table  # noqa: E402
from gankit.runs import machine_description  # noqa: E402

CASES = {"flchain": ("flchain", "sex", None), "whas500": ("whas500", "gender", None),
         "actg320-sex": ("actg320", "sex", None),
         "actg320-race": ("actg320", "raceth", ["white", "black", "hispanic"])}
SYNTH_CASES = ("flchain", "whas500", "actg320-sex")
EPSILONS = (1.0, 3.0, math.inf)
CRITERIA = ("parity", "odds")
GAP = {"parity": "dp", "odds": "eo"}
PEERS = ("unconstrained", "ExponentiatedGradient", "ThresholdOptimizer", "AdversarialFairnessClassifier")
GANKIT = {"gankit debias": ("adversarial_debiasing", []),                  # recipe, overrides
          "gankit debias, group as input": ("adversarial_debiasing", ["sensitive_as_feature=true"]),
          "gankit representation": ("fair_representation", [])}
DEFAULT_ROWS = ROOT / "docs" / "records" / "fairness.jsonl"   # committed: the page is rebuilt from it


# --- rows ---------------------------------------------------------------------------------------

def read_rows(path: Path) -> list[dict]:
    """The saved rows, one per (case, seed, method, criterion, epsilon): the last one written wins."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    return list({key(r): r for r in rows}.values())


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps({**row, "machine": machine_description("cpu")}) + "\n")   # one write per row: two runs may append to one file


def key(row: dict) -> tuple:
    return row["case"], row["seed"], row["method"], row.get("criterion"), row.get("epsilon")


def scores(y, pred, groups, score=None) -> dict:
    m = fairness_metrics(y, pred, groups, score)
    return {"accuracy": m["accuracy"], "auroc": m["auroc"], "dp": m["demographic_parity_difference"],
            "eo": m["equalized_odds_difference"]}


def case_table(case: str) -> Table:
    name, sensitive, groups = CASES[case]
    table = patient_table(name)
    return keep_groups(table, sensitive, groups) if groups else table


# --- the methods ----------------------------------------------------------------------------------

def peer_rows(data, seed: int, steps: int, batch: int, lr: float) -> list[tuple[str, str | None, dict, float]]:
    """(method, criterion, held-out scores, seconds) of the scikit-learn and fairlearn peers."""
    from fairlearn.adversarial import AdversarialFairnessClassifier
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient
    from sklearn.linear_model import LogisticRegression

    x, y, a = data.fit.x.double().numpy(), data.fit.y.numpy().astype(int), data.fit.group_names.astype(str)
    xt, yt, at = data.test.x.double().numpy(), data.test.y.numpy().astype(int), data.test.group_names.astype(str)
    base = lambda: LogisticRegression(max_iter=2000)
    out = []
    started = time.perf_counter()
    lr_model = base().fit(x, y)
    out.append(("unconstrained", None, scores(yt, lr_model.predict(xt), at, lr_model.predict_proba(xt)[:, 1]),
                time.perf_counter() - started))
    for criterion in CRITERIA:
        started = time.perf_counter()
        moment = DemographicParity() if criterion == "parity" else EqualizedOdds()
        eg = ExponentiatedGradient(base(), moment, eps=0.01).fit(x, y, sensitive_features=a)
        out.append(("ExponentiatedGradient", criterion,
                    scores(yt, eg.predict(xt, random_state=seed), at),
                    time.perf_counter() - started))
        started = time.perf_counter()
        constraint = "demographic_parity" if criterion == "parity" else "equalized_odds"
        to = ThresholdOptimizer(estimator=base(), constraints=constraint, predict_method="predict_proba")
        to.fit(x, y, sensitive_features=a)
        out.append(("ThresholdOptimizer", criterion, scores(yt, to.predict(xt, sensitive_features=at,
                                                                          random_state=seed), at),
                    time.perf_counter() - started))
        started = time.perf_counter()
        epochs = max(1, math.ceil(steps * batch / len(y)))
        afc = AdversarialFairnessClassifier(backend="torch", predictor_model=[], adversary_model=[],
                                            constraints=constraint, learning_rate=lr, alpha=1.0, epochs=epochs,
                                            batch_size=batch, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            afc.fit(x.astype(np.float32), y, sensitive_features=a)
        out.append(("AdversarialFairnessClassifier", criterion, scores(yt, afc.predict(xt.astype(np.float32)), at),
                    time.perf_counter() - started))
    return out


def gankit_row(data, method: str, criterion: str, seed: int, gap_target: float, steps: int | None) -> dict:
    """The curve over the adversary's weight, and the weight the validation rows choose."""
    recipe, extra = GANKIT[method]
    overrides = extra + [f"criterion={criterion}", f"seed={seed}"] + ([f"steps={steps}"] if steps else [])
    config = load_fair_config(recipe, overrides)
    started = time.perf_counter()
    curve = tradeoff(data, config)
    weight = choose_weight(curve, criterion, gap_target)
    short = lambda m: {"accuracy": m["accuracy"], "auroc": m["auroc"], "dp": m["demographic_parity_difference"],
                       "eo": m["equalized_odds_difference"], "adversary_accuracy": m["adversary_accuracy"],
                       "adversary_chance": m["adversary_chance"]}
    points = [{"weight": p["weight"], "validation": short(p["validation"]), "test": short(p["test"])} for p in curve]
    chosen = next(p for p in points if p["weight"] == weight)
    return {"weight": weight, "test": chosen["test"], "curve": points, "seconds": time.perf_counter() - started,
            "steps": config.steps}


def synth_row(data, seed: int, epsilon: float) -> dict:
    """Group gaps of a DP synthetic copy of the fitting + validation rows, against the real ones."""
    from fairlearn.metrics import demographic_parity_difference
    from sklearn.linear_model import LogisticRegression
    from gankit.privacy import SynthConfig, fit as fit_synth

    real = Table(data.fit.table.schema, {k: np.concatenate([data.fit.table.data[k], data.validation.table.data[k]])
                                         for k in data.fit.table.data})
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_synth(real, SynthConfig(epsilon=epsilon, seed=seed))
    synthetic = model.sample(len(real), seed=seed)

    def label_gap(table: Table) -> float:
        y = (table.data[data.target] == data.positive).astype(int)
        return float(demographic_parity_difference(y, y, sensitive_features=table.data[data.sensitive].astype(str)))

    test = data.test.table
    yt, at = (test.data[data.target] == data.positive).astype(int), test.data[data.sensitive].astype(str)
    out = {"label_gap_real": label_gap(real), "label_gap_synthetic": label_gap(synthetic),
           "epsilon_spent": model.privacy["epsilon_spent"], "seconds": time.perf_counter() - started}
    for name, table in (("trained_on_real", real), ("trained_on_synthetic", synthetic)):
        y = (table.data[data.target] == data.positive).astype(int)
        if len(set(y.tolist())) < 2:   # a synthetic table with one outcome: the classifier predicts it
            pred, score = np.full(len(yt), y[0]), None
        else:
            clf = LogisticRegression(max_iter=2000).fit(data.features.matrix(table), y)
            score = clf.predict_proba(data.features.matrix(test))[:, 1]
            pred = (score > 0.5).astype(int)
        out[name] = scores(yt, pred, at, score)
    return out


def run(path: Path, seeds: int, cases: list[str], methods: list[str], gap_target: float, steps: int | None) -> None:
    done = {key(r) for r in read_rows(path)}
    base = load_fair_config("adversarial_debiasing", [f"steps={steps}"] if steps else [])
    for seed in range(seeds):   # seeds outermost: a run stopped early still has every case, with fewer seeds
        for case in cases:
            data = prepare(case_table(case), CASES[case][1], replace(base, seed=seed), source=case)
            common = {"case": case, "seed": seed, "rows": {"fit": len(data.fit), "validation": len(data.validation),
                                                            "test": len(data.test)}}
            if "peers" in methods and (case, seed, "unconstrained", None, None) not in done:
                for method, criterion, test, seconds in peer_rows(data, seed, base.steps, base.batch_size, base.lr):
                    append(path, {**common, "method": method, "criterion": criterion, "test": test,
                                  "seconds": round(seconds, 2)})
                print(f"seed {seed} {case}: peers", flush=True)
            for method in [m for m in GANKIT if m in methods]:
                # the same rows; with the group as a feature the predictor's inputs differ, so prepare again
                own = load_fair_config(*GANKIT[method]).sensitive_as_feature
                method_data = prepare(case_table(case), CASES[case][1], replace(base, seed=seed,
                                      sensitive_as_feature=True), source=case) if own else data
                for criterion in CRITERIA:
                    if (case, seed, method, criterion, None) in done:
                        continue
                    row = gankit_row(method_data, method, criterion, seed, gap_target, steps)
                    append(path, {**common, "method": method, "criterion": criterion, **row})
                    print(f"seed {seed} {case}: {method} {criterion} weight {row['weight']:g} "
                          f"({row['seconds']:.0f} s)", flush=True)
            if "synth" not in methods or case not in SYNTH_CASES:
                continue
            for eps in EPSILONS:
                eps_key = "inf" if math.isinf(eps) else eps
                if (case, seed, "synth", None, eps_key) in done:
                    continue
                append(path, {**common, "method": "synth", "epsilon": eps_key, **synth_row(data, seed, eps)})
                print(f"seed {seed} {case}: synth epsilon {eps_key}", flush=True)


# --- the page -------------------------------------------------------------------------------------

def mean_sd(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def cell(values: list[float]) -> str:
    m, s = mean_sd(values)
    return "n/a" if math.isnan(m) else f"{m:.3f} ± {s:.3f}"


def points(rows: list[dict], case: str, criterion: str) -> dict[str, dict]:
    """Per method on this front: its held-out accuracy and gap (values over seeds)."""
    out = {}
    for method in PEERS + tuple(GANKIT):
        mine = [r for r in rows if r["case"] == case and r["method"] == method
                and r.get("criterion") in (criterion, None)]
        if mine:
            out[method] = {"accuracy": [r["test"]["accuracy"] for r in mine],
                           "gap": [r["test"][GAP[criterion]] for r in mine],
                           "auroc": [r["test"]["auroc"] for r in mine], "seeds": len(mine),
                           "weights": [r["weight"] for r in mine if "weight" in r]}
    return out


def dominated_by(front: dict[str, dict], method: str) -> tuple[list[str], list[str]]:
    """Peers more accurate AND fairer than ``method``: by more than the seed spread (the larger std of the
    two, on each axis), and, apart, those better on both means but within the spread."""
    acc, gap = mean_sd(front[method]["accuracy"]), mean_sd(front[method]["gap"])
    beyond, within = [], []
    for peer in PEERS:
        if peer not in front:
            continue
        p_acc, p_gap = mean_sd(front[peer]["accuracy"]), mean_sd(front[peer]["gap"])
        d_acc, d_gap = p_acc[0] - acc[0], gap[0] - p_gap[0]
        text = f"{peer} (+{d_acc:.3f} accuracy, -{d_gap:.3f} gap)"
        if d_acc > max(acc[1], p_acc[1]) and d_gap > max(gap[1], p_gap[1]):
            beyond.append(text)
        elif d_acc > 0 and d_gap > 0:
            within.append(text)
    return beyond, within


def front_table(rows: list[dict], case: str, criterion: str) -> tuple[list[str], dict[str, list[str]]]:
    front = points(rows, case, criterion)
    gap_name = "demographic-parity difference" if criterion == "parity" else "equalized-odds difference"
    lines = [f"| method | accuracy | {gap_name} | AUROC | weight (chosen per seed) | seeds |", "|---|---|---|---|---|---|"]
    for method, p in front.items():
        weights = ", ".join(f"{w:g}" for w in p["weights"]) if p["weights"] else ""
        lines.append(f"| {method} | {cell(p['accuracy'])} | {cell(p['gap'])} | {cell(p['auroc'])} | {weights} | "
                     f"{p['seeds']} |")
    verdicts = {m: dominated_by(front, m) for m in GANKIT if m in front}
    return lines, verdicts


def synth_table(rows: list[dict]) -> list[str]:
    lines = ["| table | epsilon | outcome gap, real rows | outcome gap, synthetic rows | LR on real: accuracy, "
             "DP diff, EO diff | LR on synthetic: accuracy, DP diff, EO diff | gap kept? |",
             "|---|---|---|---|---|---|---|"]
    for case in SYNTH_CASES:
        for eps in EPSILONS:
            eps_key = "inf" if math.isinf(eps) else eps
            mine = [r for r in rows if r["case"] == case and r["method"] == "synth" and r["epsilon"] == eps_key]
            if not mine:
                continue
            real, synth = [r["label_gap_real"] for r in mine], [r["label_gap_synthetic"] for r in mine]
            ratio = mean_sd(synth)[0] / max(mean_sd(real)[0], 1e-9)
            verdict = "kept" if 0.75 <= ratio <= 1.33 else ("shrunk" if ratio < 0.75 else "amplified")
            lr = lambda part: (f"{cell([r[part]['accuracy'] for r in mine])}, {cell([r[part]['dp'] for r in mine])}, "
                               f"{cell([r[part]['eo'] for r in mine])}")
            lines.append(f"| {case} | {eps_key} | {cell(real)} | {cell(synth)} | {lr('trained_on_real')} | "
                         f"{lr('trained_on_synthetic')} | {verdict} (x{ratio:.2f}) |")
    return lines


def draw_fronts(rows: list[dict], cases: list[str], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.checkpoint import atomic_write_bytes
    from gankit.viz import _figure_png

    fig, axes = plt.subplots(len(cases), 2, figsize=(11, 3.8 * len(cases)), squeeze=False, constrained_layout=True)
    markers = dict(zip(PEERS + tuple(GANKIT), "osD^*XP"))
    colors = {m: f"C{i}" for i, m in enumerate(PEERS + tuple(GANKIT))}
    for i, case in enumerate(cases):
        for j, criterion in enumerate(CRITERIA):
            ax, front = axes[i][j], points(rows, case, criterion)
            for method, p in front.items():
                (acc, acc_sd), (gap, gap_sd) = mean_sd(p["accuracy"]), mean_sd(p["gap"])
                ax.errorbar([gap], [acc], xerr=[gap_sd], yerr=[acc_sd], marker=markers[method], markersize=9,
                            capsize=2, linestyle="none", label=method, color=colors[method])
            for method in GANKIT:   # the whole curve, mean over seeds per weight
                mine = [r for r in rows if r["case"] == case and r["method"] == method and r["criterion"] == criterion]
                if not mine:
                    continue
                weights = [p["weight"] for p in mine[0]["curve"]]
                xs = [statistics.fmean(r["curve"][k]["test"][GAP[criterion]] for r in mine) for k in range(len(weights))]
                ys = [statistics.fmean(r["curve"][k]["test"]["accuracy"] for r in mine) for k in range(len(weights))]
                ax.plot(xs, ys, linestyle=":", alpha=0.6, color=colors[method])
                for w, x, y in zip(weights, xs, ys):
                    ax.annotate(f"{w:g}", (x, y), fontsize=7, alpha=0.7, textcoords="offset points", xytext=(3, 3))
            ax.set_title(f"{case}: accuracy vs {'parity' if criterion == 'parity' else 'odds'} difference", fontsize=9)
            ax.set_xlabel("demographic-parity difference" if criterion == "parity" else "equalized-odds difference")
            ax.set_ylabel("accuracy")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("held-out rows, mean ± std over seeds; dotted: gankit's curves over the adversary's weight "
                 "(numbers: weights)", fontsize=9)
    atomic_write_bytes(path, _figure_png(fig))


def render(rows: list[dict], img_dir: Path, rows_path: Path, gap_target: float) -> str:
    cases = [c for c in CASES if any(r["case"] == c for r in rows)]
    seeds = sorted({r["seed"] for r in rows})
    picture = img_dir / "fair_fronts.png"
    draw_fronts(rows, cases, picture)
    try:
        shown = picture.resolve().relative_to((ROOT / "docs").resolve())
    except ValueError:
        shown = picture
    sample = next((r for r in rows if r["method"] == "gankit debias"), {})
    machines = "; ".join(sorted({r.get("machine", "machine not recorded") for r in rows}))
    shown_rows = rows_path.relative_to(ROOT) if rows_path.is_relative_to(ROOT) else rows_path
    out = ["## Fairness through an adversary: gankit vs fairlearn on patient tables", "",
           f"`python benchmarks/fairness.py` ({len(seeds)} seed(s); {machines}). Held-out rows "
           f"(30 %), never used to fit or choose; gankit chose its adversary weight per seed on validation rows "
           f"(the most accurate weight with validation gap <= {gap_target:g}, else the fairest), everything else "
           f"trained on the fitting rows. Base learner: logistic regression (gankit debias: a logistic predictor as "
           f"in Zhang et al.; {sample.get('steps', '?')} steps). Cells: mean ± std over seeds. Rows: `{shown_rows}`; "
           f"method details and targets: `benchmarks/fairness.py`, [docs/experiments/fairness.md]"
           f"(experiments/fairness.md).", "", f"![fronts]({shown})", ""]
    summary = []
    for case in cases:
        name, sensitive, groups = CASES[case]
        first = next(r for r in rows if r["case"] == case)
        out.append(f"### {case}: {name}, protected column `{sensitive}`"
                   + (f" ({', '.join(groups)})" if groups else "")
                   + f"; {first['rows']['fit']} fitting / {first['rows']['validation']} validation / "
                     f"{first['rows']['test']} held-out rows")
        for criterion in CRITERIA:
            lines, verdicts = front_table(rows, case, criterion)
            out += ["", f"**{'Demographic parity' if criterion == 'parity' else 'Equalized odds'}**", ""] + lines
            for method, (beaten, within) in verdicts.items():
                text = ("on or beyond the peers' front (no peer is both more accurate and fairer by more than "
                        "the seed spread)") if not beaten else "**short of the front**: dominated by " + "; ".join(beaten)
                if within:
                    text += "; better on both means but within the spread: " + "; ".join(within)
                out.append(f"\n{method}: {text}.")
                summary.append((case, criterion, method, not beaten))
        out.append("")
    out += ["### Do gankit's games reach the peers' front?", "",
            "**yes**: no peer is both more accurate and fairer by more than the seed spread (held-out rows); "
            "**no**: some peer is.", "",
            "| case | " + " | ".join(f"{m}: {c}" for m in GANKIT for c in CRITERIA) + " |",
            "|---|" + "---|" * (len(GANKIT) * len(CRITERIA))]
    verdict = {(k, c, m): ok for k, c, m, ok in summary}
    for case in cases:
        marks = [verdict.get((case, c, m)) for m in GANKIT for c in CRITERIA]
        out.append(f"| {case} | " + " | ".join("n/a" if v is None else ("yes" if v else "**no**") for v in marks) + " |")
    synth = synth_table(rows)
    if len(synth) > 2:
        out += ["", "### Group gaps of DP synthetic data (gankit synth, dp_acgan recipe)", "",
                "Outcome gap: the demographic-parity difference of the outcome itself between the groups "
                "(fitting + validation rows, or as many synthetic rows). LR: logistic regression tested on the real "
                "held-out rows. Kept: the synthetic gap within x0.75-1.33 of the real one.", ""] + synth
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rows", type=Path, default=DEFAULT_ROWS, help="JSONL of finished rows (appended)")
    parser.add_argument("--doc", type=Path, default=None, help="write the section to this page instead of "
                                                               "docs/results.md")
    parser.add_argument("--img-dir", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--gap-target", type=float, default=0.02)
    parser.add_argument("--steps", type=int, default=None, help="gankit's training steps (default: the recipes')")
    parser.add_argument("--methods", nargs="+", default=["peers", *GANKIT, "synth"], choices=["peers", *GANKIT, "synth"],
                        help="what to run (default: everything)")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)   # tiny nets: one thread is faster, and two runs can share the machine
    if args.fresh and args.rows.exists():
        args.rows.unlink()
    if not args.render_only:
        run(args.rows, args.seeds, args.cases, args.methods, args.gap_target, args.steps)
    text = render(read_rows(args.rows), args.img_dir, args.rows, args.gap_target)
    if args.doc is not None:
        from results_doc import update_section
        update_section("fairness", text, path=args.doc, summary=False)
        print(f"wrote {args.doc}")
    else:
        from results_doc import update_section
        update_section("fairness", text)
        print("wrote docs/results.md (fairness)")


if __name__ == "__main__":
    main()
