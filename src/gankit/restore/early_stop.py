"""Early stopping without ground truth: the windowed moving variance rule (ES-WMV) of Wang, Li, Zhuang,
Chen, Liang and Sun 2021, "Early stopping for deep image prior" (https://arxiv.org/abs/2112.06074).

DIP's output first gains the photo's structure, then starts to fit the corruption. The outputs of
the last W steps vary least around the turn, so the rule tracks

    VAR(t) = 1/W * sum_{w < W} mean_pixels (x_{t-w} - mean of the window)^2

and stops once no new minimum has come for P (patience) steps; the restoration is the output kept
at the minimum. Everything stays on the device: the minimum, its step and its picture are updated
with ``torch.where``, and the only read-back is ``fired`` (asked at log intervals).

Once the rule has fired its pick is frozen, so watching it while the run goes on gives exactly
the picture that stopping would have given.

A second rule for inpainting and denoising, validation on held-out pixels (``HeldOutStop``): a
random share of the observed pixels is left out of the loss, and the step whose output matches
them best is the pick. It is the held-out data of supervised early stopping, applied to one photo
(Li et al., BMVC 2021, "Self-validation: early stopping for single-instance deep generative priors",
validate with an autoencoder trained along the way instead; this rule is the plainer one).
"""

from __future__ import annotations

import torch
from torch import Tensor

NOT_YET = -1
NO_VARIANCE = torch.finfo(torch.float32).max   # checkpoints refuse inf: "no minimum yet"


class MinimumStop:
    """Keep the picture of the lowest score seen; fire once no new minimum has come for ``patience`` steps."""

    def __init__(self, patience: int, device: torch.device | str = "cpu"):
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience, self.device = patience, torch.device(device)
        self.best_score = self.best_step = self.best = self.fired_at = None

    def _allocate_best(self, keep: Tensor) -> None:
        self.best_score = torch.full((), NO_VARIANCE, device=keep.device)
        self.best_step = torch.full((), NOT_YET, device=keep.device)
        self.best = torch.zeros(keep.shape, dtype=torch.float32, device=keep.device)
        self.fired_at = NOT_YET

    def _track(self, score: Tensor, step: int, keep: Tensor) -> None:
        if self.fired_at == NOT_YET:
            better = score < self.best_score
            self.best_score = torch.where(better, score, self.best_score)
            self.best_step = torch.where(better, torch.full((), step, device=score.device), self.best_step)
            self.best = torch.where(better, keep.detach().float(), self.best)

    def fired(self, step: int) -> bool:
        """Has the rule stopped, at ``step`` or before? (One read-back; call it at log intervals.)"""
        if self.fired_at != NOT_YET:
            return True
        if self.best_step is None or int(self.best_step) == NOT_YET:
            return False
        if step - int(self.best_step) >= self.patience:
            self.fired_at = step
            return True
        return False

    @property
    def picked_step(self) -> int | None:
        """The step of the minimum (the pick), None before the first score."""
        if self.best_step is None or int(self.best_step) == NOT_YET:
            return None
        return int(self.best_step)

    def _best_state(self) -> dict[str, Tensor]:
        return {"best_variance": self.best_score, "best_step": self.best_step, "best": self.best,
                "fired_at": torch.tensor(self.fired_at)}

    def _load_best(self, state: dict[str, Tensor]) -> None:
        # a checkpoint is read onto the CPU; the state lives where the outputs are
        self.best = state["best"].to(self.device)
        self.best_score = state["best_variance"].to(self.device)
        self.best_step = state["best_step"].to(self.device)
        self.fired_at = int(state["fired_at"])


class RunningVarianceStop(MinimumStop):
    """The ES-WMV rule on a stream of outputs (any tensors of one shape; scalars work too)."""

    def __init__(self, window: int = 100, patience: int = 1000, device: torch.device | str = "cpu"):
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        super().__init__(patience, device)
        self.window = window
        self.buffer: Tensor | None = None   # the last `window` outputs, a ring
        self.count = 0                      # outputs seen

    @torch.no_grad()
    def update(self, x: Tensor, step: int, keep: Tensor | None = None) -> Tensor:
        """Add output ``x`` of step ``step``; ``keep`` (default ``x``) is the picture remembered if this is
        a new minimum (e.g. the averaged output). Returns VAR(step), 0 until the window is full."""
        keep = x if keep is None else keep
        if self.buffer is None:
            self.buffer = torch.zeros((self.window, *x.shape), dtype=torch.float32, device=x.device)
            self._allocate_best(keep)
        self.buffer[self.count % self.window] = x.detach().float()
        self.count += 1
        if self.count < self.window:
            return torch.zeros((), device=x.device)
        variance = self.buffer.var(dim=0, unbiased=False).mean()
        self._track(variance, step, keep)
        return variance

    def state_dict(self) -> dict[str, Tensor]:
        if self.buffer is None:
            return {"count": torch.tensor(0)}
        return {"count": torch.tensor(self.count), "buffer": self.buffer, **self._best_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.count = int(state["count"])
        if "buffer" not in state:
            self.buffer = None
            return
        self.buffer = state["buffer"].to(self.device)
        self._load_best(state)


class HeldOutStop(MinimumStop):
    """Self-validation: the score of a step is its output's mean squared error on the held-out pixels."""

    def __init__(self, held_out: Tensor, patience: int = 1000, device: torch.device | str = "cpu"):
        super().__init__(patience, device)
        self.held_out = held_out.to(self.device).float()   # (1, 1, H, W) 1 where a pixel is held out
        self.count = max(float(self.held_out.sum()), 1.0)

    @torch.no_grad()
    def update(self, x: Tensor, observed: Tensor, step: int, keep: Tensor) -> Tensor:
        """Score output ``x`` against ``observed`` on the held-out pixels; returns the score (an MSE)."""
        if self.best is None:
            self._allocate_best(keep)
        score = ((x.float() - observed).pow(2) * self.held_out).sum() / (self.count * x.shape[1])
        self._track(score, step, keep)
        return score

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self.best is None else self._best_state()

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if "best" in state:
            self._load_best(state)


def held_out_pixels(weight: Tensor, share: float, seed: int) -> Tensor:
    """A random ``share`` of the pixels whose weight is 1 (drawn from ``seed``): (1, H, W), 1 = held out."""
    draw = torch.rand(weight.shape, generator=torch.Generator().manual_seed(seed + 7919))
    return ((draw < share) & (weight > 0.5)).float()
