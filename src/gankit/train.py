"""The game loop: n_dis discriminator updates, one generator update, EMA, logs, checkpoints.

Usage from Python::

    from gankit.config import load_config
    from gankit.train import train
    result = train(load_config("dcgan_mnist", ["train.steps=500"]))
    result.generator  # the EMA generator when train.ema > 0

Resuming (``train(cfg, run_dir=RUN, resume=True)``) restores nets, optimizers and
EMA; data batches, noise and dropout are pure functions of (seed, rank, step), so a
resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from gankit import checkpoint, distributed, runs
from gankit.config import Config, TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.errors import ConfigError, GankitError, TrainingDiverged
from gankit.game import GANGame, build_players
from gankit.progress import TrainProgress
from gankit.runs import stop_on_signal
from gankit.seeding import reseed
from gankit.viz import save_loss_curve, save_sample_picture


@dataclass
class TrainResult:
    run_dir: Path | None
    step: int
    generator: nn.Module = field(repr=False)      # the EMA generator when EMA is on
    discriminator: nn.Module = field(repr=False)
    interrupted: bool = False


class EpochSampler:
    """Batch t is a slice of epoch (t // batches_per_epoch)'s permutation: no state to save."""

    def __init__(self, n: int, global_batch: int, seed: int, info: distributed.DistInfo):
        if global_batch % info.world_size:
            raise ConfigError(f"train.batch_size: {global_batch} is not divisible by the "
                              f"{info.world_size} processes")
        if global_batch > n:
            raise ConfigError(f"train.batch_size: {global_batch} is larger than the dataset ({n} samples)")
        self.n, self.seed, self.device = n, seed, info.device
        self.local = global_batch // info.world_size
        self.offset = info.rank * self.local
        self.global_batch = global_batch
        self.per_epoch = n // global_batch
        self._epoch, self._perm = -1, None

    def indices(self, t: int) -> torch.Tensor:
        epoch, pos = divmod(t, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g).to(self.device)
        start = pos * self.global_batch + self.offset
        return self._perm[start:start + self.local]


class EMA:
    """Exponential moving average of the generator's weights (buffers are copied)."""

    def __init__(self, model: nn.Module, decay: float, start: int):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.start = decay, start

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        beta = self.decay if step >= self.start else 0.0
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - beta)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


def scheduled_lr(t: TrainConfig, base: float, step: int) -> float:
    if t.lr_schedule == "linear":
        return max(base * (1 - step / t.steps), t.lr_min)
    if t.lr_schedule == "exponential":
        return max(base / t.lr_decay ** step, t.lr_min)
    return base


def scheduled_momentum(t: TrainConfig, step: int) -> float:
    if t.momentum_final is None or t.momentum_ramp_steps == 0:
        return t.momentum
    frac = min(step / t.momentum_ramp_steps, 1.0)
    return t.momentum + frac * (t.momentum_final - t.momentum)


def make_optimizer(t: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=t.momentum)
    return torch.optim.Adam(params, lr=lr, betas=t.betas)


def load_training_data(cfg: Config, device: torch.device) -> Dataset:
    d = cfg.data
    data = load_dataset(d.name, root=d.root, split="train", image_size=d.image_size,
                        channels=d.channels, path=d.path, n=d.n, seed=cfg.train.seed)
    if d.limit is not None:
        data = data.subset(torch.arange(min(d.limit, len(data))))
    return data.to(device)


def train(cfg: Config, *, run_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
          callbacks: Sequence[Callable[[int, "Trainer"], None]] = ()) -> TrainResult:
    """Train a GAN as ``cfg`` says; write everything to ``run_dir`` (new folder by default)."""
    info = distributed.setup(cfg.train.device)
    try:
        trainer = Trainer(cfg, info, Path(run_dir) if run_dir else None, resume)
        if cfg.train.eval_every:
            from gankit.tracking import FIDTracker
            callbacks = [*callbacks, FIDTracker(trainer)]
        result = trainer.run(progress=progress, callbacks=callbacks)
    except BaseException:
        distributed.teardown(failed=True)  # peers may be stuck in a collective: no barrier
        raise
    distributed.teardown()
    return result


class Trainer:
    """One training run: the data, the two players, their optimizers, and the run folder."""

    def __init__(self, cfg: Config, info: distributed.DistInfo, run_dir: Path | None, resume: bool):
        if resume and run_dir is None:
            raise GankitError("resume needs the run folder to continue")
        self.cfg, self.info, t = cfg, info, cfg.train
        self.data = load_training_data(cfg, info.device)
        torch.manual_seed(t.seed)  # same initial weights on every rank
        G, D = build_players(cfg, self.data.sample_shape, self.data.num_classes)
        if hasattr(G, "init_output_bias") and self.data.is_image:  # the 2014 paper's output init
            G.init_output_bias(self.data.x.float().mean(0).cpu() / 127.5 - 1)
        self.G, self.D = G.to(info.device), D.to(info.device)
        self.game = GANGame(cfg, self.G, self.D, self.data.num_classes, info.device)
        self.opt_g = make_optimizer(t, self.G.parameters(), t.lr_g)
        self.opt_d = make_optimizer(t, self.D.parameters(), t.lr_d)
        self.ema = EMA(self.G, t.ema, t.ema_start) if t.ema else None
        self.sampler = EpochSampler(len(self.data), t.batch_size, t.seed, info)
        self.run_dir = run_dir or runs.new_run_dir(cfg)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.step = 0
        if resume:
            self._restore()
        if info.is_main:
            runs.write_config(self.run_dir, cfg)  # again on resume: overrides may extend the run
            if not resume:
                runs.write_provenance(self.run_dir, cfg, str(info.device), info.world_size)
            (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
            self.log = runs.MetricsLog(self.run_dir / "metrics.jsonl", self.step if resume else None)
        g = torch.Generator().manual_seed(t.seed + 12345)  # fixed noise: frames are comparable
        self.fixed_z = self.game.noise(t.n_samples, g)
        classes = self.game.num_classes
        self.fixed_y = torch.arange(t.n_samples, device=info.device) % classes if classes else None

    def _modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, **({"G_ema": self.ema.model} if self.ema else {})}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def _restore(self) -> None:
        record = checkpoint.restore_latest(self.ckpt_dir, modules=self._modules(), optimizers=self._optimizers())
        self.step = record["step"]

    def save(self) -> Path | None:
        for module in self._modules().values():  # BatchNorm statistics differ per rank
            distributed.average_buffers(module, self.info.world_size)
        if not self.info.is_main:
            return None
        for name, module in self._modules().items():
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise TrainingDiverged(f"{name} has non-finite weights at step {self.step}; not saving. "
                                       f"{self._last_good()}")
        return checkpoint.save_checkpoint(
            self.ckpt_dir, self.step, modules=self._modules(), optimizers=self._optimizers(),
            meta=self.checkpoint_meta(), keep=self.cfg.train.keep_ckpts)

    def checkpoint_meta(self) -> dict:
        """What a checkpoint needs besides tensors to rebuild the players."""
        return {"config": self.cfg.to_dict(), "sample_shape": list(self.data.sample_shape),
                "num_classes": self.data.num_classes, "class_names": self.data.class_names}

    def _last_good(self) -> str:
        found = checkpoint.list_checkpoints(self.ckpt_dir)
        return f"Last good checkpoint: {found[-1]}" if found else "No checkpoint was written yet."

    def _update(self, loss: torch.Tensor, model: nn.Module, opt: torch.optim.Optimizer) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        return self._step(model, opt)

    def _step(self, model: nn.Module, opt: torch.optim.Optimizer) -> torch.Tensor:
        """Average the gradients over ranks, note their norm, take the optimizer step."""
        params = [p for p in model.parameters() if p.grad is not None]
        distributed.average_gradients(params, self.info.world_size)
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        opt.step()
        return norm

    def real_batch(self, t: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The t-th real batch of the run: indexed straight from the in-memory tensor."""
        return self.data.batch(self.sampler.indices(t))

    def train_step(self) -> dict[str, torch.Tensor]:
        t, s = self.cfg.train, self.step
        # Noise and dropout come from a stream seeded by (seed, rank, step): a resumed run
        # draws exactly what the uninterrupted one drew, and each rank draws its own.
        reseed(((t.seed * 1_000_003 + self.info.rank) * 1_000_033 + s) % 2**62, self.info.device)
        for opt, base_lr in ((self.opt_d, t.lr_d), (self.opt_g, t.lr_g)):
            for group in opt.param_groups:  # schedules are functions of the step: nothing to save
                group["lr"] = scheduled_lr(t, base_lr, s)
                if t.optimizer == "sgd":
                    group["momentum"] = scheduled_momentum(t, s)
        if t.update == "simultaneous":
            d_loss, g_loss, stats = self._simultaneous_step(s)
        else:
            for j in range(t.n_dis):
                real, y = self.real_batch(s * t.n_dis + j)
                d_loss, stats = self.game.d_phase(real, y)
                stats["d_grad_norm"] = self._update(d_loss, self.D, self.opt_d)
            self.D.requires_grad_(False)  # G's update needs gradients through D, not for D
            g_loss, g_stats = self.game.g_phase(self.sampler.local)
            stats.update(g_stats, g_grad_norm=self._update(g_loss, self.G, self.opt_g))
            self.D.requires_grad_(True)
        if self.ema:
            self.ema.update(self.G, s)
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **stats}

    def _simultaneous_step(self, s: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Both players step on gradients taken at the same point (the 2014 code's update)."""
        d_loss, g_loss, stats = self.game.joint_phase(*self.real_batch(s))
        for loss, model, opt in ((d_loss, self.D, self.opt_d), (g_loss, self.G, self.opt_g)):
            opt.zero_grad(set_to_none=True)
            params = [p for p in model.parameters() if p.requires_grad]
            # autograd.grad fills only this player's gradients: D's loss must not move G
            grads = torch.autograd.grad(loss, params, retain_graph=model is self.D, allow_unused=True)
            for p, g in zip(params, grads):
                p.grad = g
        stats["d_grad_norm"] = self._step(self.D, self.opt_d)
        stats["g_grad_norm"] = self._step(self.G, self.opt_g)
        return d_loss, g_loss, stats

    def sample_generator(self) -> nn.Module:
        return self.ema.model if self.ema else self.G

    def write_pictures(self) -> None:
        samples = self.game.generate(self.sample_generator(), self.fixed_z, self.fixed_y)
        ref = self.data.x[:2000] if not self.data.is_image else None
        save_sample_picture(samples, self.run_dir / "samples" / f"step_{self.step:07d}.png",
                            reference=ref, title=f"step {self.step}")
        save_loss_curve(self.run_dir / "metrics.jsonl", self.run_dir / "loss_curve.png")

    def _flush(self, pending: list[tuple[int, dict[str, torch.Tensor]]], bar: TrainProgress) -> None:
        """One device sync per log interval: move the stats, check them, write them."""
        if not pending:
            return
        keys = list(pending[0][1])
        values = torch.stack([torch.stack([row[k].float() for k in keys]) for _, row in pending]).tolist()
        rows = [{"step": step, **dict(zip(keys, vals))} for (step, _), vals in zip(pending, values)]
        pending.clear()
        for row in rows:
            bad = [k for k in keys if row[k] != row[k] or abs(row[k]) == float("inf")]
            if bad:
                raise TrainingDiverged(
                    f"{', '.join(bad)} became {row[bad[0]]} at step {row['step']}; training stopped. "
                    f"{self._last_good()} Try a lower learning rate or another objective.")
        if self.info.is_main:
            self.log.append(rows)
        bar.update(rows[-1])

    def run(self, progress: bool = True, callbacks: Sequence[Callable] = ()) -> TrainResult:
        t = self.cfg.train
        pending: list[tuple[int, dict[str, torch.Tensor]]] = []
        interrupted = False
        with stop_on_signal() as stop, TrainProgress(t.steps, self.step, progress and self.info.is_main,
                                                     self.run_dir) as bar:
            while self.step < t.steps:
                pending.append((self.step + 1, self.train_step()))
                bar.advance()
                last = self.step == t.steps
                if self.step % t.log_every == 0 or last:
                    self._flush(pending, bar)
                    interrupted = distributed.any_rank(stop.is_set(), self.info)
                if self.info.is_main and (self.step % t.sample_every == 0 or last or interrupted):
                    self.write_pictures()
                if self.step % t.ckpt_every == 0 or last or interrupted:
                    self._flush(pending, bar)
                    self.save()
                for callback in callbacks:
                    callback(self.step, self)
                if interrupted:
                    break
        if interrupted and self.info.is_main:
            bar.console.print(f"[yellow]Stopped at step {self.step}; resume with: "
                              f"gankit train --resume {self.run_dir}")
        return TrainResult(self.run_dir if self.info.is_main else None, self.step,
                           self.sample_generator(), self.D, interrupted)
