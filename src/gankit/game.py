"""The GAN game: two players, their objective and penalties, what each phase of a step computes.

The one loop (gankit.loop.Trainer) asks the game for the loss of each phase: ``d_phase`` and
``g_phase`` (or ``joint_phase``). Everything that varies between GAN recipes (objective,
penalties, conditioning, schedules) lives here, looked up by name, with no branch on the
recipe in the loop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from gankit import losses
from gankit.config import Config, TrainConfig
from gankit.data import Dataset, load_dataset
from gankit.data.augment import DiffAugment
from gankit.distributed import DistInfo
from gankit.errors import ConfigError
from gankit.loop import EMA, BatchSampler, Game, Phase, Player, Schedule, constant, exponential_decay, linear_decay
from gankit.nets import build_discriminator, build_generator
from gankit.viz import save_loss_curve, save_sample_picture


def _split(out) -> tuple[Tensor, Tensor | None]:
    """Discriminators return logits, or (logits, class_logits) with an AC head."""
    return out if isinstance(out, tuple) else (out, None)


def build_players(cfg: Config, sample_shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    if m.conditional != "none" and num_classes < 2:
        raise ConfigError(f"model.conditional: {m.conditional!r} needs a labeled dataset; "
                          f"{cfg.data.name!r} has no labels")
    classes = num_classes if m.conditional != "none" else 0
    try:
        G = build_generator(m.arch, z_dim=m.z_dim, sample_shape=sample_shape, num_classes=classes,
                            width=m.g_width, spectral_norm=m.g_spectral_norm)
        D = build_discriminator(m.arch, sample_shape=sample_shape, num_classes=classes, cond=m.conditional,
                                width=m.d_width, spectral_norm=m.spectral_norm, dropout=m.d_dropout,
                                norm=m.d_norm)
    except ValueError as exc:  # a size or option the architecture cannot take: the recipe's fault
        raise ConfigError(f"model.arch {m.arch!r} with data {cfg.data.name!r} of shape {tuple(sample_shape)} "
                          f"(data.image_size, model.*): {exc}") from None
    return G, D


def sample_noise(n: int, z_dim: int, kind: str, device, generator: torch.Generator | None = None) -> Tensor:
    if kind == "uniform":  # U(-sqrt 3, sqrt 3) has unit variance, like N(0, 1)
        u = torch.rand(n, z_dim, generator=generator, device=generator.device if generator else device)
        return ((u * 2 - 1) * math.sqrt(3)).to(device)
    return torch.randn(n, z_dim, generator=generator,
                       device=generator.device if generator else device).to(device)


def load_training_data(cfg: Config, device: torch.device | str = "cpu") -> Dataset:
    """The training set a GAN recipe trains on (``data.limit`` applied), on ``device``."""
    d = cfg.data
    data = load_dataset(d.name, root=d.root, split="train", image_size=d.image_size,
                        channels=d.channels, path=d.path, n=d.n, seed=cfg.train.seed)
    if d.limit is not None:
        data = data.subset(torch.arange(min(d.limit, len(data))))
    return data.to(device)


def make_optimizer(t: TrainConfig, params, lr: float) -> torch.optim.Optimizer:
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=t.momentum)
    return torch.optim.Adam(params, lr=lr, betas=t.betas)


def lr_schedule(t: TrainConfig) -> Schedule:
    if t.lr_schedule == "linear":
        return linear_decay(t.steps, floor=t.lr_min)
    if t.lr_schedule == "exponential":
        return exponential_decay(t.lr_decay, t.lr_min)
    return constant


def momentum_schedule(t: TrainConfig) -> Callable[[int], float] | None:
    """SGD momentum by step: a linear ramp to momentum_final when set; None for Adam."""
    if t.optimizer != "sgd":
        return None

    def momentum(step: int) -> float:
        if t.momentum_final is None or t.momentum_ramp_steps == 0:
            return t.momentum
        return t.momentum + min(step / t.momentum_ramp_steps, 1.0) * (t.momentum_final - t.momentum)
    return momentum


class GANGame(Game):
    """The GAN game: D's phase (``n_dis`` times) then G's, or both at once (``train.update: simultaneous``)."""

    supports_ddp = True

    def __init__(self, cfg: Config, info: DistInfo, data: Dataset | None = None):
        """``data``: train on these images instead of the recipe's dataset (e.g. a labelled subset)."""
        self.cfg, self.info, t = cfg, info, cfg.train
        self.device = info.device
        self.data = load_training_data(cfg, info.device) if data is None else data.to(info.device)
        torch.manual_seed(t.seed)  # same initial weights on every rank
        G, D = build_players(cfg, self.data.sample_shape, self.data.num_classes)
        if hasattr(G, "init_output_bias") and self.data.is_image:  # the 2014 paper's output init
            G.init_output_bias(self.data.x.float().mean(0).cpu() / 127.5 - 1)
        self.G, self.D = G.to(info.device), D.to(info.device)
        self.objective = losses.OBJECTIVES[t.loss]
        self.augment = DiffAugment(t.diffaug)
        self.num_classes = self.data.num_classes if cfg.model.conditional != "none" else 0
        self.autocast = info.autocast
        d = Player("D", self.D, make_optimizer(t, self.D.parameters(), t.lr_d), t.lr_d)
        g = Player("G", self.G, make_optimizer(t, self.G.parameters(), t.lr_g), t.lr_g)
        self.phases = [Phase("joint", (d, g))] if t.update == "simultaneous" else \
            [Phase("D", (d,), repeats=t.n_dis), Phase("G", (g,))]
        self.ema = EMA(self.G, t.ema, t.ema_start) if t.ema else None
        self.averages = [(self.ema, self.G)] if self.ema else []
        self.lr_schedule, self.momentum_schedule = lr_schedule(t), momentum_schedule(t)
        if t.batch_size > len(self.data):
            raise ConfigError(f"train.batch_size: {t.batch_size} is larger than the dataset ({len(self.data)} samples)")
        if t.batch_size % info.world_size:
            raise ConfigError(f"train.batch_size: {t.batch_size} is not divisible by the {info.world_size} processes")
        self.sampler = BatchSampler(len(self.data), t.batch_size, seed=t.seed, rank=info.rank,
                                    world_size=info.world_size, device=info.device)
        g = torch.Generator().manual_seed(t.seed + 12345)  # fixed noise: frames are comparable
        self.fixed_z = self.noise(t.n_samples, g)
        self.fixed_y = torch.arange(t.n_samples, device=info.device) % self.num_classes if self.num_classes else None

    # --- what the loop asks ---

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, **({"G_ema": self.ema.model} if self.ema else {})}

    def step_seed(self, step: int) -> int:
        # Noise and dropout come from a stream seeded by (seed, rank, step): a resumed run
        # draws exactly what the uninterrupted one drew, and each rank draws its own.
        return (self.cfg.train.seed * 1_000_003 + self.info.rank) * 1_000_033 + step

    def loss(self, phase: Phase, step: int, repeat: int):
        if phase.name == "D":
            return self.d_phase(*self.real_batch(step * self.cfg.train.n_dis + repeat))
        if phase.name == "G":
            return self.g_phase(self.sampler.local)
        d_loss, g_loss, stats = self.joint_phase(*self.real_batch(step))
        return {"D": d_loss, "G": g_loss}, stats

    def checkpoint_meta(self, step: int) -> dict:
        """What a checkpoint needs besides tensors to rebuild the players."""
        return {"config": self.cfg.to_dict(), "sample_shape": list(self.data.sample_shape),
                "num_classes": self.data.num_classes, "class_names": self.data.class_names}

    def describe(self, row: dict) -> str:
        return f"D {row['d_loss']:.3f}  G {row['g_loss']:.3f}"

    def real_batch(self, t: int) -> tuple[Tensor, Tensor | None]:
        """The t-th real batch of the run: indexed straight from the in-memory tensor."""
        return self.data.batch(self.sampler(t))

    def sample_generator(self) -> nn.Module:
        """The EMA generator when the run keeps one, else the live one."""
        return self.ema.model if self.ema else self.G

    # --- the phases ---

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return sample_noise(n, self.cfg.model.z_dim, self.cfg.model.noise, self.device, generator)

    def labels(self, n: int) -> Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device)

    def d_phase(self, real: Tensor, y: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """Discriminator loss on a real batch and a fresh fake batch (fakes share the real labels)."""
        y = y if self.num_classes else None
        with torch.no_grad(), self.autocast():
            fake = self.G(self.noise(real.shape[0]), y).float()
        loss, stats, _ = self._d_loss(real, y, fake)
        return loss, stats

    def discriminate(self, x: Tensor, y: Tensor | None):
        """D's output on ``x``, through DiffAugment when the recipe turns it on (real and generated alike)."""
        return self.D(self.augment(x) if self.augment else x, y)

    def _d_loss(self, real: Tensor, y: Tensor | None, fake: Tensor
                ) -> tuple[Tensor, dict[str, Tensor], tuple[Tensor, Tensor | None]]:
        """D's loss, its stats, and D's outputs on ``fake`` (for the simultaneous update)."""
        t = self.cfg.train
        if t.r1_weight:
            real = real.detach().requires_grad_(True)
        with self.autocast():
            real_logits, real_cls = _split(self.discriminate(real, y))
            fake_logits, fake_cls = _split(self.discriminate(fake, y))
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss = self.objective.d_loss(real_logits, fake_logits)
        stats = {"d_adv": loss.detach()}
        if real_cls is not None:  # AC-GAN: D also learns to name the class of both
            ac = losses.auxiliary_classifier_loss(real_cls, y) + losses.auxiliary_classifier_loss(fake_cls, y)
            loss = loss + t.ac_weight * ac
            stats["d_ac"] = ac.detach()
        if t.gp_weight:
            gp = losses.gradient_penalty(lambda x: _split(self.discriminate(x, y))[0].float(), real, fake.detach())
            loss = loss + t.gp_weight * gp
            stats["gp"] = gp.detach()
        if t.r1_weight:
            r1 = losses.r1_penalty(real_logits, real)
            loss = loss + t.r1_weight / 2 * r1
            stats["r1"] = r1.detach()
        stats["d_real"] = torch.sigmoid(real_logits.detach()).mean()
        stats["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()
        return loss, stats, (fake_logits, fake_cls)

    def joint_phase(self, real: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Both losses from one forward pass, as the 2014 code (AdversaryCost2) computed them:
        G is judged on the very batch, noise and dropout masks that D is trained on, by the
        D of this step, not the one after D's update."""
        y = y if self.num_classes else None
        with self.autocast():
            fake = self.G(self.noise(real.shape[0]), y).float()
        d_loss, stats, (fake_logits, fake_cls) = self._d_loss(real, y, fake)
        g_loss, g_stats = self._g_loss(fake_logits, fake_cls, y)
        return d_loss, g_loss, {**stats, **g_stats}

    def g_phase(self, batch_size: int) -> tuple[Tensor, dict[str, Tensor]]:
        """Generator loss on a fresh fake batch, judged by the current discriminator."""
        y = self.labels(batch_size)
        with self.autocast():
            fake_logits, fake_cls = _split(self.discriminate(self.G(self.noise(batch_size), y), y))
        return self._g_loss(fake_logits, fake_cls, y)

    def _g_loss(self, fake_logits: Tensor, fake_cls: Tensor | None, y: Tensor | None
                ) -> tuple[Tensor, dict[str, Tensor]]:
        loss = self.objective.g_loss(fake_logits.float())
        stats = {}
        if fake_cls is not None:
            ac = losses.auxiliary_classifier_loss(fake_cls, y)
            loss = loss + self.cfg.train.ac_weight * ac
            stats["g_ac"] = ac.detach()
        return loss, stats

    @torch.no_grad()
    def generate(self, G: nn.Module, z: Tensor, y: Tensor | None) -> Tensor:
        """Samples from ``G`` (the EMA copy or the live one) in eval mode, restoring its mode."""
        was_training = G.training
        G.eval()
        try:
            with self.autocast():
                return G(z, y if self.num_classes else None).float()
        finally:
            G.train(was_training)


class SamplePictures:
    """A loop callback: the sample grid from fixed noise every ``every`` steps (and at the end), and the loss curve."""

    def __init__(self, game: GANGame, run_dir: Path, every: int):
        self.game, self.run_dir, self.every = game, run_dir, every
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)

    def __call__(self, step: int, trainer) -> None:
        if not trainer.info.is_main or not (step % self.every == 0 or trainer.ending):
            return
        game = self.game
        samples = game.generate(game.sample_generator(), game.fixed_z, game.fixed_y)
        ref = game.data.x[:2000] if not game.data.is_image else None
        save_sample_picture(samples, self.run_dir / "samples" / f"step_{step:07d}.png",
                            reference=ref, title=f"step {step}")
        save_loss_curve(self.run_dir / "metrics.jsonl", self.run_dir / "loss_curve.png")
