"""Backtracking: back to the last good state when the fitted loss jumps (the paper's notebooks).

DIP runs sometimes collapse: within a few steps the output forgets the photo and the fitted
PSNR falls by tens of dB. Every ``every`` steps the fitted PSNR of that step is compared with
the one at the last check; a drop of more than ``drop_db`` puts back the state saved there, else
the state is saved. The state is the net's weights, Adam's moments (moments full of the jump's
gradients would push it straight back) and the output average.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.restore.average import OutputAverage


class Backtracker:
    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer, average: "OutputAverage", drop_db: float,
                 every: int):
        self.net, self.optimizer, self.average = net, optimizer, average
        self.drop_db, self.every = drop_db, every
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.saved: dict[str, Tensor] = {}
        self.saved_fit: float | None = None
        self.count = 0   # how many times the run went back

    def due(self, step: int) -> bool:
        return self.every > 0 and self.drop_db > 0 and step > 0 and step % self.every == 0

    def check(self, fit_psnr: float) -> bool:
        """Save the state, or put the saved one back when ``fit_psnr`` fell too far (returns True then)."""
        if self.saved_fit is not None and fit_psnr < self.saved_fit - self.drop_db:
            self._load(self.saved)
            self.count += 1
            return True
        self.saved, self.saved_fit = self._state(), fit_psnr
        return False

    @torch.no_grad()
    def _state(self) -> dict[str, Tensor]:
        state = {f"net/{k}": v.detach().clone() for k, v in self.net.state_dict().items()}
        for i, p in enumerate(self.params):
            for slot, value in self.optimizer.state.get(p, {}).items():
                if torch.is_tensor(value):
                    state[f"adam/{i}/{slot}"] = value.detach().clone()
        state.update({f"average/{k}": v.detach().clone() for k, v in self.average.state_dict().items()})
        return state

    @torch.no_grad()
    def _load(self, state: dict[str, Tensor]) -> None:
        net_state = {k[4:]: v for k, v in state.items() if k.startswith("net/")}
        self.net.load_state_dict(net_state)
        for key, value in state.items():
            if key.startswith("adam/"):
                _, i, slot = key.split("/")
                self.optimizer.state[self.params[int(i)]][slot].copy_(value)
        self.average.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("average/")})

    def state_dict(self) -> dict[str, Tensor]:
        has = self.saved_fit is not None
        return {"count": torch.tensor(self.count), "has_saved": torch.tensor(int(has)),
                "saved_fit": torch.tensor(self.saved_fit if has else 0.0, dtype=torch.float64),
                **{f"saved/{k}": v for k, v in self.saved.items()}}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.count = int(state["count"])
        self.saved_fit = float(state["saved_fit"]) if int(state["has_saved"]) else None
        device = self.params[0].device
        self.saved = {k[6:]: v.to(device) for k, v in state.items() if k.startswith("saved/")}
