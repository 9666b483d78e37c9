"""Deep Image Prior as a game on the one loop: one player, the hourglass net, fitted to one photo.

Each step (Ulyanov et al. 2018, eq. 2 with the data term of each task):

    z_t   = z + N(0, reg_noise_std^2)              fresh input noise (regularisation)
    x_t   = f_theta(z_t)                           the net's output on the canvas
    loss  = sum(w * (A(x_t) - y)^2) / sum(w)       y observed, w its weight, A the task's operator
    theta <- Adam step on loss

and, outside the gradient: the output average (denoising), the kept pixels pasted back
(inpainting), the early-stopping rule's running variance of the raw outputs, backtracking
checks, and PSNR against the reference when one is given. The loop
(gankit.loop.Trainer) does the rest: reseeding per step, logging with one sync per interval,
checkpoints with every piece of state below, Ctrl-C and exact resume.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from gankit.distributed import DistInfo
from gankit.loop import Game, Phase, Player, Trainer
from gankit.restore.average import OutputAverage
from gankit.restore.backtrack import Backtracker
from gankit.restore.config import RestoreConfig
from gankit.restore.early_stop import RunningVarianceStop
from gankit.restore.hourglass import SkipHourglass, net_input
from gankit.restore.metrics import psnr_tensor, ssim
from gankit.restore.problem import Problem


class DIPGame(Game):
    """Fit one SkipHourglass to one corrupted photo."""

    def __init__(self, cfg: RestoreConfig, problem: Problem, info: DistInfo | None = None):
        cfg.check()
        self.cfg, self.problem = cfg, problem
        self.info = info or DistInfo()
        device = self.device = self.info.device
        torch.manual_seed(cfg.seed)
        in_channels = 2 if cfg.input == "meshgrid" else cfg.input_channels
        self.net = SkipHourglass(in_channels, problem.channels, cfg.channels_down, cfg.channels_up,
                                 cfg.channels_skip, cfg.kernel, cfg.upsample, cfg.pad).to(device)
        self.z = net_input(cfg.input, cfg.input_channels, *problem.canvas,
                           torch.Generator().manual_seed(cfg.seed)).to(device)
        self.observed = problem.observed[None].to(device)
        self.weight = problem.weight[None].to(device)
        self.weight_sum = float(problem.weight.sum()) * problem.channels
        self.reference = problem.reference[None].to(device) if problem.reference is not None else None
        self.operator = problem.operator(device)
        self.paste = self.weight if cfg.keep_known and problem.task == "inpaint" else None
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.phases = [Phase("dip", (Player("net", self.net, self.optimizer, cfg.lr),))]
        self.average = OutputAverage(cfg.average, device)
        self.stopper = RunningVarianceStop(cfg.es_window, cfg.es_patience, device)
        self.backtrack = Backtracker(self.net, self.optimizer, self.average, cfg.backtrack_db, cfg.backtrack_every)
        self.output: Tensor | None = None   # the latest restoration on the canvas (averaged when averaging)
        self.rows: list[dict] = []           # the logged rows (one per log interval)
        self.best: tuple[float, int] | None = None   # (PSNR, step): the best restoration along the run

    # --- what the loop asks ---

    def modules(self) -> dict:
        return {"net": self.net, "average": self.average, "early_stop": self.stopper, "backtrack": self.backtrack}

    def step_seed(self, step: int) -> int:
        return self.cfg.seed * 1_000_003 + step   # the input noise of step t is a function of t

    def checkpoint_meta(self, step: int) -> dict:
        return {"kind": "restore", "task": self.problem.task, "config": config_dict(self.cfg)}

    def _fit(self, z: Tensor) -> tuple[Tensor, Tensor]:
        with self.info.autocast():
            out = self.net(z)
        residual = self.operator(out.float()) - self.observed
        return out.float(), (residual.pow(2) * self.weight).sum() / self.weight_sum

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        z = self.z + cfg.reg_noise_std * torch.randn_like(self.z) if cfg.reg_noise_std > 0 else self.z
        out, loss = self._fit(z)
        if self.backtrack.due(step):   # one read-back every backtrack_every steps
            if self.backtrack.check(float(_fit_psnr(loss.detach()))):
                out, loss = self._fit(z)   # this step starts again from the restored state
        return loss, self._track(out.detach(), loss.detach(), step)

    @torch.compiler.disable   # bookkeeping indexed by the step (the stopper's window): eager in a captured step
    @torch.no_grad()
    def _track(self, out: Tensor, loss: Tensor, step: int) -> dict[str, Tensor]:
        """The output average, the early-stopping window, and the step's stats."""
        restored = self.average.update(out)
        if self.paste is not None:   # the pixels the mask keeps, as they were
            restored = torch.lerp(restored, self.observed, self.paste)
        variance = self.stopper.update(out, step + 1, keep=restored)
        self.output = restored
        stats = {"fit_psnr": _fit_psnr(loss), "es_variance": variance}
        if self.reference is not None:
            stats["psnr"] = psnr_tensor(self.problem.crop(restored), self.reference)
        return stats

    def done(self, step: int) -> bool:
        return self.stopper.fired(step) and self.cfg.early_stop == "stop"

    def record(self, rows: list[dict], trainer: Trainer, partial: bool) -> None:
        if self.cfg.early_stop != "none":
            self.stopper.fired(rows[-1]["step"])   # note when the rule would stop (watch mode runs on)
        if self.reference is not None and self.output is not None:
            rows[-1]["ssim"] = ssim(self.restored(), self.reference[0])
        self.remember(rows)
        super().record(rows, trainer, partial)

    def remember(self, rows: list[dict]) -> None:
        """Keep the interval's last row and the best PSNR of any step (also fed the log of a resumed run)."""
        for row in rows:
            if "psnr" in row and (self.best is None or row["psnr"] > self.best[0]):
                self.best = (row["psnr"], row["step"])
        if rows:
            self.rows.append(dict(rows[-1]))

    def load_history(self, rows: list[dict]) -> None:
        """The log of the steps a resumed run did before it stopped (RUN/metrics.jsonl)."""
        self.rows, self.best = [], None
        self.remember(rows)
        self.rows = [dict(r) for r in rows if r["step"] % self.cfg.log_every == 0]

    def describe(self, row: dict) -> str:
        text = f"fit {row['fit_psnr']:.2f} dB"
        if "psnr" in row:
            text += f"  PSNR {row['psnr']:.2f} dB"
        if "ssim" in row:
            text += f"  SSIM {row['ssim']:.3f}"
        if self.cfg.early_stop != "none" and self.stopper.picked_step is not None:
            text += f"  ES pick {self.stopper.picked_step}"
        return text

    # --- what comes out ---

    def restored(self) -> Tensor:
        """The current restoration, cropped to the photo's size, on the CPU: a copy, never a view of the
        output average, which later steps update in place (a strip's snapshots would all show the last one)."""
        if self.output is None:   # no step taken in this process (a finished run resumed): the average,
            with torch.no_grad():  # else the net's output on the noiseless input
                out = self.average.value if self.average.value is not None else self._fit(self.z)[0]
                self.output = torch.lerp(out, self.observed, self.paste) if self.paste is not None else out
        return self.problem.crop(self.output[0]).detach().to("cpu", torch.float32, copy=True)

    def early_stop_pick(self) -> Tensor | None:
        """The rule's pick (cropped, CPU), None when the window never filled or the rule is off."""
        if self.cfg.early_stop == "none" or self.stopper.picked_step is None:
            return None
        return self.problem.crop(self.stopper.best[0]).cpu()


def _fit_psnr(mse: Tensor) -> Tensor:
    return -10.0 * torch.log10(mse.float().clamp_min(1e-12))


def config_dict(cfg: RestoreConfig) -> dict:
    """The config as plain YAML/JSON values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
