"""The report of a fitted fairness model, measured on its held-out rows, and the trade-off picture.

    report = fair_report(model, table)          # table: the one the model was fitted on (split again)
    write_report(report, "model/")              # model/report.json and model/tradeoff.png

It holds accuracy and AUROC; the demographic-parity and equalized-odds differences; per-
group selection, true-positive and false-positive rates (all from fairlearn.metrics); the
model's own adversary's accuracy at recovering the group beside chance (the largest
group's share), and a fresh probe's balanced accuracy (chance 1 / groups): a logistic
regression trained after the fit, on the fitting rows, to read the group from what the
adversary reads; and the trade-off curve
over the adversary's weight that the fit measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gankit.checkpoint import atomic_write_text
from gankit.errors import GankitError
from gankit.fair.data import prepare
from gankit.fair.metrics import GAPS
from gankit.fair.model import FairModel
from gankit.privacy.schema import Table


@torch.no_grad()
def adversary_inputs(model: FairModel, table: Table) -> np.ndarray:
    """What the adversary reads for each row: the prediction's logit, or the representation; with the
    true outcome (and its product with the view) for equalized odds."""
    view = model.net.adversary_view(model.features_of(table)).numpy().astype(np.float64)
    if model.config.criterion != "odds":
        return view
    y = model.outcomes(table)[:, None].astype(np.float64)
    return np.concatenate([view, y, view * y], axis=1)


def probe_balanced_accuracy(model: FairModel, fit_rows: Table, test_rows: Table, seed: int = 0) -> float:
    """A fresh adversary trained after the fit: a logistic regression from what the model's adversary reads
    to the group, fitted on the fitting rows with every group weighed alike, and its balanced accuracy
    (the mean of per-group recalls; chance is 1 / groups) on the held-out rows. Balanced, because a
    plain probe with a weak signal names the largest group every time and scores exactly "chance"."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    probe = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    probe.fit(adversary_inputs(model, fit_rows), model.group_codes(fit_rows))
    guess = probe.predict(adversary_inputs(model, test_rows))
    return float(balanced_accuracy_score(model.group_codes(test_rows), guess))


def fair_report(model: FairModel, table: Table) -> dict:
    """Measure ``model`` on the held-out rows of ``table`` (split again as at the fit)."""
    data = prepare(table, model.sensitive, model.config, model.positive)
    rows = model.record.get("rows", {})
    if rows and rows.get("test") != len(data.test):
        raise GankitError(f"the table gives {len(data.test)} held-out rows, the model's fit had {rows['test']}; "
                          f"is it the same table?")
    test = model.evaluate(data.test.table)
    test["probe_balanced_accuracy"] = probe_balanced_accuracy(model, data.fit.table, data.test.table, model.config.seed)
    test["probe_chance"] = 1 / len(model.groups)
    c = model.config
    return {"method": c.method, "criterion": c.criterion, "sensitive": model.sensitive, "target": model.target,
            "positive": model.positive, "groups": model.groups, "weight": model.record.get("weight"),
            "weight_chosen_on_validation": c.choose_weight, "rows": rows, "test": test,
            "validation": model.record.get("validation"), "curve": model.record.get("curve", [])}


def write_report(report: dict, folder: str | Path) -> tuple[Path, Path | None]:
    """report.json, and tradeoff.png when the fit drew a curve."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    atomic_write_text(json_path, json.dumps(report, indent=1))
    picture = None
    if report["curve"]:
        picture = folder / "tradeoff.png"
        plot_tradeoff(report["curve"], report["weight"], picture,
                      f"{report['method']}, {report['criterion']}: {report['target']} against {report['sensitive']}")
    return json_path, picture


def plot_tradeoff(curve: list[dict], chosen: float | None, path: Path, title: str = "") -> None:
    """Accuracy against each gap, one point per adversary weight: held-out rows (solid) and validation (faint)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.checkpoint import atomic_write_bytes
    from gankit.viz import _figure_png

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (criterion, gap) in zip(axes, GAPS.items()):
        for part, style in (("validation", dict(alpha=0.35, linestyle="--")), ("test", dict())):
            xs = [p[part][gap] for p in curve]
            ys = [p[part]["accuracy"] for p in curve]
            ax.plot(xs, ys, marker="o", label="held-out rows" if part == "test" else "validation rows", **style)
            if part == "test":
                for p, x, y in zip(curve, xs, ys):
                    ax.annotate(f"{p['weight']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
                    if chosen is not None and p["weight"] == chosen:
                        ax.plot([x], [y], marker="*", markersize=15, color="crimson", linestyle="none",
                                label=f"the model (weight {chosen:g})")
        ax.set_xlabel(gap.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=8)
    fig.suptitle((title + "\n" if title else "") + "numbers beside the points: the adversary's weight", fontsize=10)
    atomic_write_bytes(path, _figure_png(fig))
