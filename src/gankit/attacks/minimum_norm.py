"""Minimum-norm attacks: Carlini-Wagner L2 and DeepFool.

They take no eps: each looks for the smallest perturbation that changes the
answer. The robustness report measures "robust accuracy at eps" for them as the
fraction of images that are classified right and whose found perturbation is
larger than eps (or that the attack could not fool at all).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.attacks.base import Attack, _check_number, _per_sample, lp_norm, register_attack

__all__ = ["CW", "DeepFool"]


@register_attack("cw")
class CW(Attack):
    r"""Carlini-Wagner L2 attack.

    Carlini and Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017,
    https://arxiv.org/abs/1608.04644. Minimizes ``||x' - x||_2^2 + c * f(x')`` over
    ``x' = (tanh(w) + 1) / 2`` (so x' stays in [0, 1] without clipping) with Adam, where
    ``f(x') = max(Z_y - max_{i != y} Z_i, -kappa)`` on the logits Z (targeted:
    ``max(max_{i != t} Z_i - Z_t, -kappa)``). A per-sample binary search over c
    (``search_steps`` rounds, starting at ``c``) keeps, for each image, the smallest
    successful perturbation; images never fooled are returned unchanged.

    Distance Measure: L2

    Arguments:
        c (float): initial trade-off constant (default 1.0).
        kappa (float): confidence margin (default 0).
        steps (int): Adam steps per binary-search round (default 100; the paper used up to 10,000).
        lr (float): Adam learning rate (default 0.01, as in the paper).
        search_steps (int): binary-search rounds over c (default 5; the paper used 9).
        seed (int or None): unused (CW is deterministic), kept for a uniform interface.

    Shape:
        - x: (N, C, H, W) (any (N, ...)) floats in [0, 1]; y and target: (N,) int64.
        - output: like x.

    Examples::

        >>> x_adv = CW(c=1.0, steps=100)(model, x, y)
        >>> (x_adv - x).flatten(1).norm(dim=1)   # per-image L2 distances
    """

    norm = "L2"
    bounded = False

    def __init__(self, *, c: float = 1.0, kappa: float = 0.0, steps: int = 100, lr: float = 0.01,
                 search_steps: int = 5, seed: int | None = None):
        super().__init__(eps=None, seed=seed)
        _check_number("c", c, low=0.0, strict=True)
        _check_number("kappa", kappa, low=0.0)
        _check_number("lr", lr, low=0.0, strict=True)
        _check_number("steps", steps, low=1, integer=True)
        _check_number("search_steps", search_steps, low=1, integer=True)
        self.c, self.kappa, self.lr = float(c), float(kappa), float(lr)
        self.steps, self.search_steps = steps, search_steps

    def _margin(self, logits: Tensor, labels: Tensor, targeted: bool) -> Tensor:
        """f(x') per sample: how far x' still is from the goal, floored at -kappa."""
        own = logits.gather(1, labels[:, None]).squeeze(1)
        others = logits.scatter(1, labels[:, None], float("-inf")).amax(dim=1)
        gap = own - others if not targeted else others - own
        return gap.clamp(min=-self.kappa)

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        labels, targeted = (y, False) if target is None else (target, True)
        n = x.shape[0]
        c = torch.full((n,), self.c, device=x.device)
        lower, upper = torch.zeros_like(c), torch.full_like(c, float("inf"))
        best, best_dist = x.clone(), torch.full_like(c, float("inf"))
        w0 = torch.atanh((x * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        for _ in range(self.search_steps):
            w = w0.clone().requires_grad_(True)
            opt = torch.optim.Adam([w], lr=self.lr)
            succeeded = torch.zeros(n, dtype=torch.bool, device=x.device)
            for _ in range(self.steps):
                x_new = (torch.tanh(w) + 1) / 2
                logits = model(x_new)
                dist = (x_new - x).flatten(1).pow(2).sum(1)
                loss = (dist + c * self._margin(logits, labels, targeted)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    hit = self._fooled(logits, y, target)
                    better = hit & (dist < best_dist)
                    best[better], best_dist[better] = x_new.detach()[better], dist[better]
                    succeeded |= hit
            # binary search: shrink c where it worked, grow it where it did not
            upper = torch.where(succeeded, torch.minimum(upper, c), upper)
            lower = torch.where(succeeded, lower, torch.maximum(lower, c))
            c = torch.where(upper.isfinite(), (lower + upper) / 2, c * 10)
        return best


@register_attack("deepfool")
class DeepFool(Attack):
    r"""DeepFool: step to the nearest linearized decision boundary until the label flips.

    Moosavi-Dezfooli, Fawzi and Frossard, "DeepFool: a simple and accurate method to fool deep
    neural networks", CVPR 2016, https://arxiv.org/abs/1511.04599. At each iteration, for
    every other class k, with ``f_k = Z_k - Z_y`` and ``w_k = grad f_k``, the boundary of the
    linearized classifier is ``|f_k| / ||w_k||_q`` away (q the dual norm); the step goes to the
    nearest one. The accumulated perturbation is scaled by ``1 + overshoot``. Untargeted only.

    Distance Measure: L2 (default) or Linf

    Arguments:
        steps (int): maximum iterations (default 50).
        overshoot (float): push past the boundary by this fraction (default 0.02, as in the paper).
        norm (str): "L2" or "Linf".
        candidates (int or None): only the classes with the top logits are candidates (None: all).
        seed (int or None): unused (DeepFool is deterministic), kept for a uniform interface.

    Shape:
        - x: (N, C, H, W) (any (N, ...)) floats in [0, 1]; y: (N,) int64.
        - output: like x.

    Examples::

        >>> x_adv = DeepFool(steps=50, overshoot=0.02)(model, x, y)
    """

    targeted_ok = False
    bounded = False

    def __init__(self, *, steps: int = 50, overshoot: float = 0.02, norm: str = "L2",
                 candidates: int | None = None, seed: int | None = None):
        self.norm = norm
        super().__init__(eps=None, seed=seed)
        _check_number("steps", steps, low=1, integer=True)
        _check_number("overshoot", overshoot, low=0.0)
        if candidates is not None:
            _check_number("candidates", candidates, low=2, integer=True)
        self.steps, self.overshoot, self.candidates = steps, float(overshoot), candidates

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        r_total = torch.zeros_like(x)
        x_adv = x.clone()
        active = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(self.steps):
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            xa = x_adv[idx].requires_grad_(True)
            logits = model(xa)
            fooled = logits.argmax(1) != y[idx]
            active[idx[fooled]] = False
            keep = ~fooled
            if not keep.any():
                break
            r = self._step(xa, logits, y[idx])
            with torch.no_grad():
                r_total[idx[keep]] += r[keep]
                x_adv[idx[keep]] = (x[idx[keep]] + (1 + self.overshoot) * r_total[idx[keep]]).clamp(0.0, 1.0)
        return x_adv

    def _step(self, xa: Tensor, logits: Tensor, y: Tensor) -> Tensor:
        """The minimal step to the nearest linearized boundary, per sample (one backward per class)."""
        classes = logits.shape[1]
        if self.candidates is not None and self.candidates < classes:
            cand = logits.detach().topk(self.candidates, dim=1).indices
        else:
            cand = torch.arange(classes, device=xa.device).expand(xa.shape[0], classes)
        own_grad, = torch.autograd.grad(logits.gather(1, y[:, None]).sum(), xa, retain_graph=True)
        own = logits.detach().gather(1, y[:, None]).squeeze(1)
        best_dist = torch.full((xa.shape[0],), float("inf"), device=xa.device)
        best_r = torch.zeros_like(xa)
        for j in range(cand.shape[1]):
            k = cand[:, j]
            grad_k, = torch.autograd.grad(logits.gather(1, k[:, None]).sum(), xa, retain_graph=True)
            with torch.no_grad():
                w = grad_k - own_grad
                f = (logits.detach().gather(1, k[:, None]).squeeze(1) - own).abs()
                dual = lp_norm(w, "L1" if self.norm == "Linf" else "L2").clamp_min(1e-12)
                dist = (f + 1e-4) / dual
                dist[k == y] = float("inf")
                closer = dist < best_dist
                if self.norm == "Linf":
                    r = _per_sample(dist, w) * w.sign()
                else:
                    r = _per_sample(dist / dual, w) * w
                best_r[closer], best_dist[closer] = r[closer], dist[closer]
        return best_r
