"""The two players, their objective and penalties: what each phase of a step computes.

The loop in train.py only calls ``d_phase`` and ``g_phase`` (or ``joint_phase``); everything that varies
between GAN recipes (objective, penalties, conditioning) lives here, looked up by
name, with no branch on the recipe in the loop.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn

from gankit import losses
from gankit.config import Config
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator


def _split(out) -> tuple[Tensor, Tensor | None]:
    """Discriminators return logits, or (logits, class_logits) with an AC head."""
    return out if isinstance(out, tuple) else (out, None)


def build_players(cfg: Config, sample_shape: tuple[int, ...], num_classes: int) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    if m.conditional != "none" and num_classes < 2:
        raise ConfigError(f"model.conditional: {m.conditional!r} needs a labeled dataset; "
                          f"{cfg.data.name!r} has no labels")
    classes = num_classes if m.conditional != "none" else 0
    G = build_generator(m.arch, z_dim=m.z_dim, sample_shape=sample_shape, num_classes=classes,
                        width=m.g_width, spectral_norm=m.g_spectral_norm)
    D = build_discriminator(m.arch, sample_shape=sample_shape, num_classes=classes, cond=m.conditional,
                            width=m.d_width, spectral_norm=m.spectral_norm, dropout=m.d_dropout,
                            norm=m.d_norm)
    return G, D


def sample_noise(n: int, z_dim: int, kind: str, device, generator: torch.Generator | None = None) -> Tensor:
    if kind == "uniform":  # U(-sqrt 3, sqrt 3) has unit variance, like N(0, 1)
        u = torch.rand(n, z_dim, generator=generator, device=generator.device if generator else device)
        return ((u * 2 - 1) * math.sqrt(3)).to(device)
    return torch.randn(n, z_dim, generator=generator,
                       device=generator.device if generator else device).to(device)


class GANGame:
    def __init__(self, cfg: Config, G: nn.Module, D: nn.Module, num_classes: int, device: torch.device):
        self.cfg, self.G, self.D, self.device = cfg, G, D, device
        self.objective = losses.OBJECTIVES[cfg.train.loss]
        self.num_classes = num_classes if cfg.model.conditional != "none" else 0
        bf16 = cfg.train.precision == "bf16" or (cfg.train.precision == "auto" and device.type == "cuda")
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 \
            else contextlib.nullcontext

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

    def _d_loss(self, real: Tensor, y: Tensor | None, fake: Tensor
                ) -> tuple[Tensor, dict[str, Tensor], tuple[Tensor, Tensor | None]]:
        """D's loss, its stats, and D's outputs on ``fake`` (for the simultaneous update)."""
        t = self.cfg.train
        if t.r1_weight:
            real = real.detach().requires_grad_(True)
        with self.autocast():
            real_logits, real_cls = _split(self.D(real, y))
            fake_logits, fake_cls = _split(self.D(fake, y))
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss = self.objective.d_loss(real_logits, fake_logits)
        stats = {"d_adv": loss.detach()}
        if real_cls is not None:  # AC-GAN: D also learns to name the class of both
            ac = losses.auxiliary_classifier_loss(real_cls, y) + losses.auxiliary_classifier_loss(fake_cls, y)
            loss = loss + t.ac_weight * ac
            stats["d_ac"] = ac.detach()
        if t.gp_weight:
            gp = losses.gradient_penalty(lambda x: _split(self.D(x, y))[0].float(), real, fake.detach())
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
            fake_logits, fake_cls = _split(self.D(self.G(self.noise(batch_size), y), y))
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
