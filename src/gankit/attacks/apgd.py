"""Auto-PGD with the cross-entropy loss (APGD-CE): PGD without a step size to tune."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.attacks.base import Attack, _check_number, _per_sample, lp_norm, project, register_attack

__all__ = ["APGD", "checkpoints"]


def checkpoints(steps: int) -> list[int]:
    """The iterations where APGD may halve its step: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), scaled by ``steps`` (Croce & Hein 2020, sec. 3.2)."""
    p = [0.0, 0.22]
    while p[-1] < 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    marks = {math.ceil(round(q * steps, 9)) for q in p[1:]}  # round: 0.22 * 100 is 22.000000000000004
    return sorted(m for m in marks if 0 < m < steps)


@register_attack("apgd")
class APGD(Attack):
    r"""Auto-PGD on the cross-entropy loss (APGD-CE).

    Croce and Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
    parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690. PGD with momentum
    (0.75) whose step size starts at 2 * eps and is halved, per image, at checkpoints where
    the loss went up in fewer than ``rho`` of the steps since the last checkpoint, or where
    neither the step size nor the best loss changed; after a halving the image restarts from
    its best point so far. Returns, per image, the first iterate that fools the model, else
    the iterate with the highest loss.

    Distance Measure: Linf or L2

    Arguments:
        eps (float): radius of the ball (default 0.3).
        steps (int): iterations per restart (default 100, as in the paper).
        norm (str): "Linf" (default) or "L2".
        restarts (int): random restarts for images not fooled yet (default 1).
        rho (float): the fraction of loss increases below which the step is halved (default 0.75).
        seed (int or None): seed for the random starts.

    Shape:
        - x: (N, C, H, W) (any (N, ...)) floats in [0, 1]; y and target: (N,) int64.
        - output: like x.

    Examples::

        >>> x_adv = APGD(eps=0.3, steps=100, seed=0)(model, x, y)
    """

    def __init__(self, *, eps: float = 0.3, steps: int = 100, norm: str = "Linf", restarts: int = 1,
                 rho: float = 0.75, seed: int | None = None):
        self.norm = norm
        super().__init__(eps=eps, seed=seed)
        _check_number("steps", steps, low=1, integer=True)
        _check_number("restarts", restarts, low=1, integer=True)
        _check_number("rho", rho, low=0.0)
        self.steps, self.restarts, self.rho = steps, restarts, float(rho)

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        best = x.clone()
        fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            todo = (~fooled).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            t = None if target is None else target[todo]
            candidate, won = self._run(model, x[todo], y[todo], t)
            best[todo] = candidate
            fooled[todo[won]] = True
        return best

    def _loss_grad(self, model: nn.Module, x: Tensor, labels: Tensor, sign: float) -> tuple[Tensor, Tensor, Tensor]:
        """Per-sample loss (to maximize), its gradient, and the logits."""
        x = x.detach().requires_grad_(True)
        logits = model(x)
        loss = sign * F.cross_entropy(logits, labels, reduction="none")
        grad, = torch.autograd.grad(loss.sum(), x)
        return loss.detach(), grad, logits.detach()

    def _ascent(self, x_k: Tensor, grad: Tensor, eta: Tensor, x: Tensor) -> Tensor:
        """P(x_k + eta * steepest-ascent direction) for the attack's norm."""
        if self.norm == "Linf":
            direction = grad.sign()
        else:
            direction = grad / _per_sample(lp_norm(grad, "L2").clamp_min(1e-12), grad)
        return project(x_k + _per_sample(eta, x_k) * direction, x, self.eps, self.norm)

    def _run(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> tuple[Tensor, Tensor]:
        labels, sign = (y, 1.0) if target is None else (target, -1.0)
        n = x.shape[0]
        marks = set(checkpoints(self.steps))
        x_k = self.random_point(x, self.eps, self.norm)
        loss, grad, logits = self._loss_grad(model, x_k, labels, sign)
        x_max, f_max, grad_max = x_k.clone(), loss.clone(), grad.clone()
        fooled = self._fooled(logits, y, target)
        adv = x_k.clone()
        eta = torch.full((n,), 2 * self.eps, device=x.device)
        ups = torch.zeros(n, device=x.device)             # loss increases since the last checkpoint
        last_mark, f_at_mark = 0, f_max.clone()
        halved_at_mark = torch.zeros(n, dtype=torch.bool, device=x.device)
        x_prev, prev_loss = x_k, loss
        for k in range(self.steps):
            z = self._ascent(x_k, grad, eta, x)
            if k == 0:
                x_next = z
            else:  # momentum 0.75 on the step (Croce & Hein, eq. 2)
                x_next = project(x_k + 0.75 * (z - x_k) + 0.25 * (x_k - x_prev), x, self.eps, self.norm)
            x_prev, x_k = x_k, x_next
            loss, grad, logits = self._loss_grad(model, x_k, labels, sign)
            hit = self._fooled(logits, y, target) & ~fooled
            adv[hit], fooled = x_k[hit], fooled | hit
            ups += (loss > prev_loss).float()
            prev_loss = loss
            better = loss > f_max
            x_max[better], f_max[better], grad_max[better] = x_k[better], loss[better], grad[better]
            if k + 1 in marks:
                # condition 1: too few loss increases; condition 2: no halving last time and no progress
                few = ups < self.rho * (k + 1 - last_mark)
                stuck = ~halved_at_mark & (f_max <= f_at_mark)
                halve = few | stuck
                eta[halve] /= 2
                x_k[halve], grad[halve] = x_max[halve], grad_max[halve]
                ups.zero_()
                last_mark, f_at_mark, halved_at_mark = k + 1, f_max.clone(), halve
        return torch.where(_per_sample(fooled, x), adv, x_max), fooled
