"""Scoring detectors: average precision and accuracy per generator and per perturbation.

Protocol (Wang et al. 2020): generated = positive; AP from the scores
(sklearn.metrics.average_precision_score); accuracy at the fixed threshold 0.5: the mean of the real
and the generated images' accuracies (the plain accuracy when there are as many of each). A
perturbation is applied to the real and the generated images alike.
"""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np
from sklearn.metrics import average_precision_score
from torch import Tensor

from gankit.detect.perturb import PERTURBATIONS

__all__ = ["Scorer", "detection_scores", "evaluate_scorers", "mean_held_out"]


class Scorer(Protocol):
    def scores(self, images: Tensor) -> np.ndarray:
        """P(generated) of each uint8 image."""


def detection_scores(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """AP (generated = positive) and accuracy at 0.5 (balanced over the two classes), with each class's
    accuracy beside."""
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    scores = np.r_[real, fake]
    real_acc, fake_acc = float(np.mean(real < 0.5)), float(np.mean(fake >= 0.5))
    return {"ap": float(average_precision_score(labels, scores)),
            "accuracy": (real_acc + fake_acc) / 2,
            "real_accuracy": real_acc, "fake_accuracy": fake_acc}


def evaluate_scorers(scorers: Mapping[str, Scorer], real: Tensor, fakes: Mapping[str, Tensor],
                     perturbations: Mapping[str, object] | None = None) -> dict:
    """{scorer: {perturbation: {source: {ap, accuracy, real_accuracy, fake_accuracy}}}}.

    ``real``: uint8 real images (a test split); ``fakes``: uint8 generated images by source name.
    Each perturbation is applied once per image set and shared by every scorer.
    """
    perturbations = PERTURBATIONS if perturbations is None else perturbations
    out: dict = {name: {} for name in scorers}
    for p_name, perturb in perturbations.items():
        real_p = perturb(real)
        fakes_p = {source: perturb(images) for source, images in fakes.items()}
        for name, scorer in scorers.items():
            real_scores = scorer.scores(real_p)
            out[name][p_name] = {source: detection_scores(real_scores, scorer.scores(images))
                                 for source, images in fakes_p.items()}
    return out


def mean_held_out(results: dict, trained_on: set[str], metric: str = "ap") -> float | None:
    """The mean of ``metric`` over the sources a detector did not learn from (None: there are none)."""
    values = [r[metric] for source, r in results.items() if source not in trained_on]
    return float(np.mean(values)) if values else None
