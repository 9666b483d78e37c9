"""Accuracy and group fairness of yes/no predictions. The maths is fairlearn.metrics'; this module only
gathers it into one record (gankit does not rewrite it).

    fairness_metrics(y_true, y_pred, groups, y_score)
    -> {"accuracy", "auroc", "demographic_parity_difference", "equalized_odds_difference",
        "groups": {group: {"count", "selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"}}}

Both differences are the largest gap between any two groups (fairlearn's "between_groups",
worst case over true- and false-positive rates for equalized odds), so a sensitive attribute
with more than two groups works the same way.
"""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import MetricFrame, count, demographic_parity_difference, equalized_odds_difference, \
    false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score, roc_auc_score

GAPS = {"parity": "demographic_parity_difference", "odds": "equalized_odds_difference"}


def fairness_metrics(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
                     y_score: np.ndarray | None = None) -> dict:
    """Overall accuracy (and AUROC when scores are given), the two gaps, and per-group rates."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    groups = np.asarray(groups).astype(str)
    frame = MetricFrame(metrics={"count": count, "selection_rate": selection_rate,
                                 "true_positive_rate": true_positive_rate,
                                 "false_positive_rate": false_positive_rate, "accuracy": accuracy_score},
                        y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    by_group = {str(g): {k: float(v) for k, v in row.items()} for g, row in frame.by_group.iterrows()}
    out = {"accuracy": float(accuracy_score(y_true, y_pred)),
           "auroc": float(roc_auc_score(y_true, y_score)) if y_score is not None and len(set(y_true)) == 2 else None,
           "demographic_parity_difference": float(demographic_parity_difference(y_true, y_pred,
                                                                               sensitive_features=groups)),
           "equalized_odds_difference": float(equalized_odds_difference(y_true, y_pred, sensitive_features=groups)),
           "groups": by_group}
    return out


def recovery_chance(groups: np.ndarray) -> float:
    """The accuracy of always naming the largest group: what an adversary that learnt nothing scores."""
    _, counts = np.unique(np.asarray(groups).astype(str), return_counts=True)
    return float(counts.max() / counts.sum())
