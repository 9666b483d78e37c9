"""One report on a synthetic table: privacy spent, fidelity, utility, and a privacy audit.

    from gankit.privacy.report import synth_report, write_report
    report = synth_report(model, train, holdout)          # a dict (JSON-ready)
    write_report(report, "model/")                        # model/report.html + model/report.json

* privacy: the epsilon the accountant says was spent, delta, and whether the schema's
  bounds and categories were declared (public) or read off the data (not covered).
* fidelity: per column total variation (categories) or Kolmogorov-Smirnov statistic and
  Wasserstein-1 distance in units of the declared range (numbers); the mean absolute
  difference of the correlation matrices; and the AUROC of a random forest told to tell
  real training rows from synthetic ones (0.5: it cannot; 1.0: trivially).
* utility: train on synthetic, test on real held-out rows (TSTR; Esteban et al. 2017),
  beside train on real, test on real (TRTR), for logistic regression, random forest and
  gradient boosting.
* audit: distance to the closest record (DCR) of synthetic rows to training rows versus
  to as many held-out rows, and a membership-inference attack that calls a record a
  member when a synthetic row lies close to it (the distance attack of Hilprecht et al.
  2019 / the DCR test of synthcity); AUROC about 0.5 means no leak it can see.
* missing: for each column that may be missing, how the model handles it and the share
  of missing cells in the real training rows and in the synthetic ones. Fidelity
  compares the values of present cells; classifiers and distances see a missing number
  as mid-range plus a 0/1 "missing" feature.

The report reads the real rows: it is for the data holder and is not itself private.
"""

from __future__ import annotations

import html
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import ks_2samp, wasserstein_distance

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.errors import GankitError
from gankit.privacy.schema import Column, Table
from gankit.privacy.transform import TableEncoder

CLASSIFIERS = ("logistic regression", "random forest", "gradient boosting")
HANDLING = {"categorical": "its own category: the generator draws 'missing' like any other value",
            "numeric": "a missingness indicator beside the value: the generator draws present or missing, "
                       "and a value only for present cells"}
CALIBRATED = "; the overall missing share is matched to a noisy count released under the same (ε, δ)"


def _classifier(name: str, seed: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if name == "logistic regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    if name == "random forest":
        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    return GradientBoostingClassifier(random_state=seed)


def _features(table: Table, with_target: bool = False) -> np.ndarray:
    """Numbers scaled to [0, 1] by the declared bounds, categories one-hot (the target too if asked)."""
    x = TableEncoder(table.schema, 1).numeric_matrix(table)
    if with_target:
        codes = table.target_codes()
        x = np.concatenate([x, np.eye(len(table.schema.column(table.schema.target).categories))[codes]], axis=1)
    return x


def _auroc(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


def _fit_score(name: str, x_fit, y_fit, x_test, y_test, n_classes: int, seed: int) -> dict:
    if len(np.unique(y_fit)) < n_classes:
        return {"auroc": None, "accuracy": None, "note": "the training set lacks a class"}
    model = _classifier(name, seed).fit(x_fit, y_fit)
    proba = model.predict_proba(x_test)
    accuracy = float((proba.argmax(1) == y_test).mean())
    if len(np.unique(y_test)) < n_classes:  # AUROC is undefined for a class with no held-out row
        return {"auroc": None, "accuracy": accuracy, "note": "the held-out rows lack a class"}
    return {"auroc": _auroc(y_test, proba), "accuracy": accuracy}


def utility(synthetic: Table, train: Table, holdout: Table, seed: int = 0,
            classifiers: tuple[str, ...] = CLASSIFIERS) -> dict:
    """TSTR and TRTR AUROC and accuracy on the held-out rows, per classifier."""
    n_classes = len(train.schema.column(train.schema.target).categories)
    x_test, y_test = _features(holdout), holdout.target_codes()
    out = {}
    for name in classifiers:
        out[name] = {
            "tstr": _fit_score(name, _features(synthetic), synthetic.target_codes(), x_test, y_test, n_classes, seed),
            "trtr": _fit_score(name, _features(train), train.target_codes(), x_test, y_test, n_classes, seed)}
    return out


def detection_auroc(real: Table, synthetic: Table, seed: int = 0, folds: int = 5) -> float | None:
    """Out-of-fold AUROC of a random forest separating real rows from as many synthetic rows
    (fewer folds when there are fewer than ``folds`` rows of each; None below two)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    n = min(len(real), len(synthetic))
    if n < 2:
        return None
    folds = min(folds, n)
    rng = np.random.default_rng(seed)
    a = _features(real, True)[rng.choice(len(real), n, replace=False)]
    b = _features(synthetic, True)[rng.choice(len(synthetic), n, replace=False)]
    x, y = np.concatenate([a, b]), np.r_[np.ones(n), np.zeros(n)]
    scores = np.empty(len(y))
    for fit_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1).fit(x[fit_idx], y[fit_idx])
        scores[test_idx] = forest.predict_proba(x[test_idx])[:, 1]
    return float(roc_auc_score(y, scores))


def fidelity(real: Table, synthetic: Table, seed: int = 0) -> dict:
    columns = {}
    for col in real.schema.columns:
        r, s = real.data[col.name], synthetic.data[col.name]
        if col.numeric:
            columns[col.name] = {"type": col.type, **_value_distances(col, r, s)}
        else:  # missing counts as one more category
            p = np.array([(r == c).mean() for c in col.levels])
            q = np.array([(s == c).mean() for c in col.levels])
            columns[col.name] = {"type": col.type, "tv": float(0.5 * np.abs(p - q).sum())}
    return {"columns": columns, "correlation_mad": _correlation_mad(real, synthetic),
            "detection_auroc": detection_auroc(real, synthetic, seed)}


def _value_distances(col: Column, real: np.ndarray, synthetic: np.ndarray) -> dict:
    """KS and Wasserstein-1 / range between the present values (None when one side has none)."""
    r, s = real[~np.isnan(real)], synthetic[~np.isnan(synthetic)]
    if not len(r) or not len(s):
        return {"ks": None, "wasserstein": None}
    return {"ks": float(ks_2samp(r, s).statistic),
            "wasserstein": float(wasserstein_distance(r, s) / (col.max - col.min))}


def missing_values(real: Table, synthetic: Table, released: dict | None = None) -> dict:
    """Per column that may be missing: how the model handles it and the missing share in the real and
    synthetic rows; ``released``: the model's record of the (noisy) shares it was calibrated to."""
    out = {}
    for col in real.schema.columns:
        if not col.missing:
            continue
        rate = (released or {}).get(col.name, {}).get("released_rate")
        handling = HANDLING["numeric" if col.numeric else "categorical"] + (CALIBRATED if rate is not None else "")
        out[col.name] = {"type": col.type, "handling": handling,
                         "real_rate": float(col.is_missing(real.data[col.name]).mean()), "released_rate": rate,
                         "synthetic_rate": float(col.is_missing(synthetic.data[col.name]).mean())}
    return out


def _correlation_mad(real: Table, synthetic: Table) -> float:
    """Mean |corr_real - corr_synthetic| over column pairs (categories one-hot; constant columns count 0)."""
    def corr(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.corrcoef(x, rowvar=False)
        return np.nan_to_num(c)
    a, b = corr(_features(real, True)), corr(_features(synthetic, True))
    upper = np.triu_indices_from(a, k=1)
    return float(np.abs(a - b)[upper].mean())


def privacy_audit(synthetic: Table, train: Table, holdout: Table, seed: int = 0) -> dict:
    """DCR of synthetic rows to training vs held-out rows, and the distance membership-inference AUROC."""
    from sklearn.metrics import roc_auc_score
    s, t, h = (_features(x, True) for x in (synthetic, train, holdout))
    rng = np.random.default_rng(seed)
    t_eq = t[rng.choice(len(t), min(len(t), len(h)), replace=False)]   # as many training rows as held-out
    d_train, d_hold = cdist(s, t_eq).min(1), cdist(s, h).min(1)
    closer = float(np.mean(d_train < d_hold) + 0.5 * np.mean(d_train == d_hold))
    to_synth = cdist(np.concatenate([t, h]), s).min(1)   # member score: minus distance to the synthetic set
    member = np.r_[np.ones(len(t)), np.zeros(len(h))]
    return {"dcr_train_median": float(np.median(d_train)), "dcr_holdout_median": float(np.median(d_hold)),
            "share_closer_to_train": closer, "exact_copies": int((cdist(s, t).min(1) < 1e-9).sum()),
            "mia_auroc": float(roc_auc_score(member, -to_synth))}


def synth_report(model, train: Table, holdout: Table, *, n: int | None = None, seed: int = 0) -> dict:
    """Everything in one dict: ``model`` is a Synthesizer (or anything with sample/privacy/schema)."""
    start = time.time()
    if n is not None and n < 1:
        raise GankitError(f"-n must be >= 1 synthetic rows, got {n}")
    if len(train) < 2 or not len(holdout):
        raise GankitError(f"the report needs at least 2 training rows and 1 held-out row, got {len(train)} and "
                          f"{len(holdout)}; fit on a larger table")
    synthetic = model.sample(len(train) if n is None else n, seed=seed)
    return {"gankit": __version__, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "source": getattr(model, "source", {}), "n_train": len(train), "n_holdout": len(holdout),
            "n_synthetic": len(synthetic), "target": train.schema.target, "privacy": model.privacy,
            "schema_declared": train.schema.declared,
            "missing": missing_values(train, synthetic, getattr(model, "missing", None)),
            "fidelity": fidelity(train, synthetic, seed), "utility": utility(synthetic, train, holdout, seed),
            "audit": privacy_audit(synthetic, train, holdout, seed), "seconds": round(time.time() - start, 1)}


# --- HTML -----------------------------------------------------------------------------

_CSS = """body{font:15px/1.45 system-ui,sans-serif;color:#222;max-width:1000px;margin:0 auto;padding:1em 1.5em 3em}
h2{border-bottom:1px solid #ddd;margin-top:1.6em} table{border-collapse:collapse;margin:.5em 0}
th,td{border-bottom:1px solid #e4e4e4;padding:.25em .7em;text-align:left} th{background:#f5f5f5}
td.num{font-variant-numeric:tabular-nums} .warn{color:#a40;font-weight:600} .muted{color:#666}"""


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return html.escape(v)
    return "∞" if math.isinf(v) else f"{v:.{digits}f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class=num>{_f(c)}</td>" if not isinstance(c, str) else
                                    f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _privacy_html(r: dict) -> str:
    p = r["privacy"]
    if p.get("epsilon_target") == "inf":
        guarantee = "<p class=warn>Trained WITHOUT differential privacy (epsilon = ∞): no formal guarantee.</p>"
    else:
        guarantee = (f"<p>(ε, δ) = (<b>{_f(p['epsilon_spent'])}</b>, {p['delta']:g}) spent, read back from "
                     f"Opacus' {html.escape(p['ledger']['accountant'].upper())} accountant over {p.get('steps')} "
                     f"DP-SGD steps (sample rate {_f(p.get('sample_rate'), 4)}, noise multiplier "
                     f"{_f(p.get('noise_multiplier'))}, clipping {p.get('max_grad_norm')}) and one noisy release "
                     f"of the class counts{_missing_counts_note(p)}.</p>")
    schema = ("<p>Schema <b>declared</b>: bounds, categories and which columns may be missing are public inputs, "
              "not read from the rows.</p>" if r["schema_declared"] else
              "<p class=warn>Schema INFERRED from the data: its bounds (each a real record's min or max), "
              "category lists and which columns may be missing are not covered by ε. Declare them for a real "
              "release.</p>")
    reads = ("<p class=muted>This report itself reads the real training and held-out rows (TRTR scores, "
             "distances, marginals): it is for the data holder, is not covered by ε, and should not be "
             "published beside the synthetic table.</p>")
    return guarantee + schema + reads


def _missing_html(r: dict) -> str:
    missing = r.get("missing") or {}
    if not missing:
        return "<p>No column may hold missing values (none had any in the training table, or the schema says so).</p>"
    rows = [[name, m["type"], m["handling"], m["real_rate"], m.get("released_rate"), m["synthetic_rate"]]
            for name, m in missing.items()]
    return ("<p>Missing values are modelled, not imputed: synthetic rows have missing (empty) cells too. The "
            "fidelity table compares present values only.</p>" +
            _table(["column", "type", "handled as", "missing share, real", "released (noisy)", "synthetic"], rows))


def _missing_counts_note(privacy: dict) -> str:
    columns = privacy.get("missing_counts_released") or []
    return f" and of the number of missing cells in {', '.join(map(html.escape, columns))}" if columns else ""


def render_html(r: dict) -> str:
    fid, aud = r["fidelity"], r["audit"]
    cols = [[name, c["type"], c.get("tv"), c.get("ks"), c.get("wasserstein")] for name, c in fid["columns"].items()]
    util = [[name, u["tstr"]["auroc"], u["trtr"]["auroc"], u["tstr"]["accuracy"], u["trtr"]["accuracy"]]
            for name, u in r["utility"].items()]
    body = [f"<h1>Synthetic data report</h1><p class=muted>gankit {r['gankit']}, {r['created']}; "
            f"{r['n_train']} training rows, {r['n_holdout']} held-out rows, {r['n_synthetic']} synthetic rows, "
            f"target <b>{html.escape(str(r['target']))}</b></p>",
            "<h2>Privacy</h2>", _privacy_html(r),
            "<h2>Utility</h2><p>AUROC and accuracy on the real held-out rows of a classifier trained on synthetic "
            "rows (TSTR) or on the real training rows (TRTR).</p>",
            _table(["classifier", "TSTR AUROC", "TRTR AUROC", "TSTR accuracy", "TRTR accuracy"], util),
            "<h2>Fidelity</h2>",
            _table(["measure", "value", "meaning"], [
                ["detection AUROC", fid["detection_auroc"], "random forest telling real from synthetic: 0.5 best"],
                ["correlation difference", fid["correlation_mad"], "mean |Δ corr| over column pairs: 0 best"]]),
            _table(["column", "type", "total variation", "KS", "Wasserstein / range"], cols),
            "<h2>Missing values</h2>", _missing_html(r),
            "<h2>Privacy audit</h2>",
            _table(["measure", "value", "meaning"], [
                ["membership-inference AUROC", aud["mia_auroc"], "distance attack on train vs held-out rows: "
                                                                  "0.5 = no leak it can see"],
                ["share of synthetic rows closer to train", aud["share_closer_to_train"],
                 "than to as many held-out rows: 0.5 = no copying"],
                ["median DCR to train", aud["dcr_train_median"], "distance to closest record"],
                ["median DCR to held-out", aud["dcr_holdout_median"], "similar to the above when nothing is copied"],
                ["exact copies of training rows", float(aud["exact_copies"]), "should be 0"]])]
    return (f"<!doctype html><html><head><meta charset=utf-8><title>gankit synth report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def write_report(report: dict, folder: str | Path) -> tuple[Path, Path]:
    folder = Path(folder)
    html_path, json_path = folder / "report.html", folder / "report.json"
    atomic_write_text(json_path, json.dumps(report, indent=1))
    atomic_write_text(html_path, render_html(report))
    return html_path, json_path
