"""FGSM and PGD: one signed-gradient step, and many projected ones."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.attacks.base import Attack, AttackError, _check_number, _per_sample, lp_norm, register_attack

__all__ = ["FGSM", "PGD", "input_gradient"]


def input_gradient(model: nn.Module, x: Tensor, labels: Tensor, sign: float) -> tuple[Tensor, Tensor]:
    """Gradient of ``sign * CE(model(x), labels)`` (summed over the batch) w.r.t. x, and the logits.

    Summing (not averaging) keeps each sample's gradient independent of the batch size.
    One forward and one backward; the model's weights get no gradient.
    """
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = F.cross_entropy(logits, labels, reduction="sum")
    grad, = torch.autograd.grad(loss * sign if sign != 1.0 else loss, x)
    return grad, logits.detach()


@register_attack("fgsm")
class FGSM(Attack):
    r"""Fast Gradient Sign Method.

    Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015,
    https://arxiv.org/abs/1412.6572. One step of size eps along the sign of the loss gradient:
    ``x_adv = clip_[0,1](x + eps * sign(grad_x CE(f(x), y)))`` (targeted: ``x - eps * sign(grad_x CE(f(x), t))``).

    Distance Measure: Linf

    Arguments:
        eps (float): maximum perturbation (default 8/255; MNIST papers use 0.1 to 0.3).
        seed (int or None): unused (FGSM is deterministic), kept for a uniform interface.

    Shape:
        - x: (N, C, H, W) (any (N, ...)) floats in [0, 1]; y and target: (N,) int64.
        - output: like x.

    Examples::

        >>> attack = FGSM(eps=0.25)
        >>> x_adv = attack(model, x, y)
    """

    norm = "Linf"

    def __init__(self, *, eps: float = 8 / 255, seed: int | None = None):
        super().__init__(eps=eps, seed=seed)

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        sign = self._loss_sign(target)
        grad, _ = input_gradient(model, x, y if target is None else target, sign)
        return (x + self.eps * grad.sign()).clamp_(0.0, 1.0)


@register_attack("pgd")
class PGD(Attack):
    r"""Projected Gradient Descent (on the negative loss), the "first-order adversary".

    Madry, Makelov, Schmidt, Tsipras and Vladu, "Towards Deep Learning Models Resistant to
    Adversarial Attacks", ICLR 2018, https://arxiv.org/abs/1706.06083. From a uniform random
    point of the eps ball, ``steps`` times: step ``alpha`` along the steepest-ascent direction of
    the loss for the norm (the gradient's sign for Linf, the normalized gradient for L2), then
    project back onto the eps ball and [0, 1]. With ``restarts > 1``, samples not yet fooled are
    attacked again from new random starts.

    Distance Measure: Linf or L2

    Arguments:
        eps (float): radius of the ball (default 0.3, Madry et al.'s MNIST setting).
        alpha (float or None): step size; None -> 2.5 * eps / steps (Madry et al.'s rule, enough
            to cross the ball from any start).
        steps (int): iterations per restart (default 40).
        norm (str): "Linf" (default) or "L2".
        random_start (bool): start at a uniform random point of the ball (default True).
        restarts (int): number of random starts (default 1).
        keep_adversarial (bool): return, per sample, the first iterate that fools the model
            instead of the last iterate (default True: the attack never loses a success it
            found; adversarial training uses the last iterate, as Madry et al.).
        seed (int or None): seed for the random starts.

    Shape:
        - x: (N, C, H, W) (any (N, ...)) floats in [0, 1]; y and target: (N,) int64.
        - output: like x.

    Examples::

        >>> attack = PGD(eps=0.3, alpha=0.01, steps=40, seed=0)
        >>> x_adv = attack(model, x, y)
        >>> x_adv = PGD(eps=2.0, norm="L2")(model, x, y, target=torch.full_like(y, 3))
    """

    def __init__(self, *, eps: float = 0.3, alpha: float | None = None, steps: int = 40, norm: str = "Linf",
                 random_start: bool = True, restarts: int = 1, keep_adversarial: bool = True,
                 seed: int | None = None):
        self.norm = norm
        super().__init__(eps=eps, seed=seed)
        _check_number("steps", steps, low=1, integer=True)
        _check_number("restarts", restarts, low=1, integer=True)
        if alpha is None:
            alpha = 2.5 * self.eps / steps
        _check_number("alpha", alpha, low=0.0)
        if not isinstance(random_start, bool) or not isinstance(keep_adversarial, bool):
            raise AttackError("random_start and keep_adversarial must be True or False")
        self.alpha, self.steps, self.restarts = float(alpha), steps, restarts
        self.random_start, self.keep_adversarial = random_start, keep_adversarial

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        best = self._run(model, x, y, target)
        if self.restarts == 1:
            return best
        with torch.no_grad():
            fooled = self._fooled(model(best), y, target)
        for _ in range(self.restarts - 1):
            todo = (~fooled).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            t = None if target is None else target[todo]
            candidate = self._run(model, x[todo], y[todo], t)
            with torch.no_grad():
                won = self._fooled(model(candidate), y[todo], t)
            best[todo[won]] = candidate[won]
            fooled[todo[won]] = True
        return best

    def _run(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        """One restart. Each step is one forward, one backward and a few fused tensor ops.

        With ``keep_adversarial`` an image leaves the batch as soon as an iterate fools the
        model (that iterate is its answer), so later steps only pay for the images still standing.
        """
        labels = y if target is None else target
        sign = self._loss_sign(target)
        x_adv = self.random_point(x, self.eps, self.norm) if self.random_start else x.clone()
        out = x_adv.clone() if self.keep_adversarial else x_adv
        idx = torch.arange(x.shape[0], device=x.device)
        x0, y0, t0 = x, y, target
        if self.norm == "Linf":  # the intersection of the eps box and [0, 1], computed once
            lo, hi = (x - self.eps).clamp_(min=0.0), (x + self.eps).clamp_(max=1.0)
        for _ in range(self.steps):
            grad, logits = input_gradient(model, x_adv, labels, sign)
            with torch.no_grad():
                if self.keep_adversarial:
                    hit = self._fooled(logits, y0, t0)
                    if hit.any():  # record these, drop them from the batch
                        out[idx[hit]] = x_adv[hit]
                        keep = ~hit
                        if not keep.any():
                            return out
                        idx, x_adv, grad, x0 = idx[keep], x_adv[keep], grad[keep], x0[keep]
                        y0, labels = y0[keep], labels[keep]
                        t0 = None if t0 is None else t0[keep]
                        if self.norm == "Linf":
                            lo, hi = lo[keep], hi[keep]
                if self.norm == "Linf":
                    x_adv = torch.clamp(x_adv + self.alpha * grad.sign(), min=lo, max=hi)
                else:
                    step = grad / _per_sample(lp_norm(grad, "L2").clamp_min(1e-12), grad)
                    x_adv = self._project_l2(x_adv + self.alpha * step, x0)
        if self.keep_adversarial:
            out[idx] = x_adv
            return out
        return x_adv

    def _project_l2(self, x_adv: Tensor, x: Tensor) -> Tensor:
        delta = x_adv - x
        factor = (self.eps / lp_norm(delta, "L2").clamp_min(1e-12)).clamp_(max=1.0)
        return (x + delta * _per_sample(factor, delta)).clamp_(0.0, 1.0)
