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
"""

from __future__ import annotations

import torch
from torch import Tensor

NOT_YET = -1
NO_VARIANCE = torch.finfo(torch.float32).max   # checkpoints refuse inf: "no minimum yet"


class RunningVarianceStop:
    """The ES-WMV rule on a stream of outputs (any tensors of one shape; scalars work too)."""

    def __init__(self, window: int = 100, patience: int = 1000, device: torch.device | str = "cpu"):
        if window < 2 or patience < 1:
            raise ValueError(f"window must be >= 2 and patience >= 1, got {window} and {patience}")
        self.window, self.patience, self.device = window, patience, torch.device(device)
        self.buffer: Tensor | None = None   # the last `window` outputs, a ring
        self.count = 0                      # outputs seen
        self.best_variance = self.best_step = self.best = self.fired_at = None

    def _allocate(self, x: Tensor, keep: Tensor) -> None:
        self.buffer = torch.zeros((self.window, *x.shape), dtype=torch.float32, device=x.device)
        self.best_variance = torch.full((), NO_VARIANCE, device=x.device)
        self.best_step = torch.full((), NOT_YET, device=x.device)
        self.best = torch.zeros(keep.shape, dtype=torch.float32, device=x.device)
        self.fired_at = NOT_YET

    @torch.no_grad()
    def update(self, x: Tensor, step: int, keep: Tensor | None = None) -> Tensor:
        """Add output ``x`` of step ``step``; ``keep`` (default ``x``) is the picture remembered if this is
        a new minimum (e.g. the averaged output). Returns VAR(step), 0 until the window is full."""
        keep = x if keep is None else keep
        if self.buffer is None:
            self._allocate(x, keep)
        self.buffer[self.count % self.window] = x.detach().float()
        self.count += 1
        if self.count < self.window:
            return torch.zeros((), device=x.device)
        variance = self.buffer.var(dim=0, unbiased=False).mean()
        if self.fired_at == NOT_YET:
            better = variance < self.best_variance
            self.best_variance = torch.where(better, variance, self.best_variance)
            self.best_step = torch.where(better, torch.full((), step, device=x.device), self.best_step)
            self.best = torch.where(better, keep.detach().float(), self.best)
        return variance

    def fired(self, step: int) -> bool:
        """Has the rule stopped, at ``step`` or before? (One read-back; call it at log intervals.)"""
        if self.fired_at != NOT_YET:
            return True
        if self.buffer is None or self.count < self.window:
            return False
        if step - int(self.best_step) >= self.patience:
            self.fired_at = step
            return True
        return False

    @property
    def picked_step(self) -> int | None:
        """The step of the variance minimum (the pick), None before the window is full."""
        if self.best_step is None or int(self.best_step) == NOT_YET:
            return None
        return int(self.best_step)

    def state_dict(self) -> dict[str, Tensor]:
        if self.buffer is None:
            return {"count": torch.tensor(0)}
        return {"count": torch.tensor(self.count), "buffer": self.buffer, "best_variance": self.best_variance,
                "best_step": self.best_step, "best": self.best, "fired_at": torch.tensor(self.fired_at)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.count = int(state["count"])
        if "buffer" not in state:
            self.buffer = None
            return
        # a checkpoint is read onto the CPU; the state lives where the outputs are
        self.buffer, self.best = state["buffer"].to(self.device), state["best"].to(self.device)
        self.best_variance = state["best_variance"].to(self.device)
        self.best_step = state["best_step"].to(self.device)
        self.fired_at = int(state["fired_at"])
