"""The fairness games' losses and gradients as small pure functions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def cell_weights(a: Tensor, y: Tensor, n_groups: int, odds: bool) -> Tensor:
    """Per row, a weight that makes every group (every (group, outcome) cell for odds) count equally
    in the adversary's loss (LAFTR's group-normalized objective): with it, the adversary cannot
    score by betting on the majority group, and its balanced accuracy at chance is 1 / n_groups."""
    cells = a * 2 + y.long() if odds else a
    n_cells = n_groups * 2 if odds else n_groups
    counts = torch.bincount(cells, minlength=n_cells).float()
    present = (counts > 0).sum()
    return (len(a) / (present * counts.clamp(min=1)))[cells]


def adversary_loss(logits: Tensor, a: Tensor, weights: Tensor | None = None) -> Tensor:
    """Cross-entropy of the adversary's group logits against the true groups (weighted mean)."""
    losses = F.cross_entropy(logits, a, reduction="none")
    return losses.mean() if weights is None else (weights * losses).sum() / weights.sum()


def confusion_loss(logits: Tensor, weights: Tensor | None = None) -> Tensor:
    """How far the adversary's belief is from knowing nothing: cross-entropy of its group distribution
    against the uniform one (weighted mean). Unlike the adversary's negated loss, it cannot be won by
    making the adversary confidently wrong, which would leave the group as readable as before."""
    losses = -F.log_softmax(logits, dim=1).mean(dim=1)
    return losses.mean() if weights is None else (weights * losses).sum() / weights.sum()


def task_loss(logit: Tensor, y: Tensor) -> Tensor:
    """The predictor's own objective: binary cross-entropy on the outcome."""
    return F.binary_cross_entropy_with_logits(logit, y)


def projected_gradient(task: list[Tensor], adversary: list[Tensor], weight: float,
                       projection: bool = True) -> list[Tensor]:
    """Zhang, Lemoine & Mitchell 2018, eq. 1: the predictor's update direction

        g = grad L_P - proj_{grad L_A} grad L_P - alpha grad L_A

    over all of the predictor's weights as one vector. The projection drops the part of the
    task gradient that would help the adversary; the last term moves against it.
    ``projection=False`` keeps the plain gradient-reversal update (grad L_P - alpha grad L_A)."""
    t = torch.cat([g.reshape(-1) for g in task])
    h = torch.cat([g.reshape(-1) for g in adversary])
    g = t - weight * h
    if projection:
        unit = h / (h.norm() + 1e-12)
        g = g - (t @ unit) * unit
    parts, at = [], 0
    for like in task:
        parts.append(g[at:at + like.numel()].view_as(like))
        at += like.numel()
    return parts


def surrogate(params: list[Tensor], grads: list[Tensor]) -> Tensor:
    """A loss whose gradient with respect to ``params`` is ``grads``: the loop's plain backward then
    applies any update direction (here Zhang's projected one) without a loop of its own."""
    return sum((p * g.detach()).sum() for p, g in zip(params, grads))


def schedule_weight(kind: str, weight: float, step: int, steps: int) -> float:
    """The adversary's weight at ``step`` of ``steps``: constant, growing as sqrt(t / T) (Zhang et
    al. grow theirs as sqrt(t)), or linearly over the first half of the run."""
    progress = (step + 1) / steps
    if kind == "sqrt":
        return weight * math.sqrt(progress)
    if kind == "linear":
        return weight * min(1.0, 2 * progress)
    return weight
