"""The CycleGAN game: two generators (A->B, B->A) and two discriminators, on the one loop.

Each step, as the official code does it: the generators' phase (LSGAN adversarial terms, the
cycle-consistency L1 in both directions, weighted by lambda_cycle, and the identity L1, weighted
by lambda_identity * lambda_cycle), then the discriminators' phase on real images and on generated
ones drawn through each side's history pool.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.distributed import DistInfo
from gankit.errors import ConfigError
from gankit.loop import BatchSampler, Game, Phase, Player, linear_decay
from gankit.translate.config import TranslateConfig
from gankit.translate.domains import Domain, check_domain, load_domain
from gankit.translate.nets import PatchDiscriminator, ResnetGenerator, init_weights
from gankit.translate.pool import ImagePool


def lsgan(logits: Tensor, real: bool) -> Tensor:
    """Least-squares GAN loss: the mean squared distance of D's patch outputs from 1 (real) or 0 (fake)."""
    return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))


def cycle_losses(G: nn.ModuleDict, real_a: Tensor, real_b: Tensor) -> dict[str, Tensor]:
    """The translations and reconstructions of one batch, and the L1 distances the losses weigh."""
    fake_b, fake_a = G["ab"](real_a), G["ba"](real_b)
    out = {"fake_a": fake_a, "fake_b": fake_b,
           "cycle_a": F.l1_loss(G["ba"](fake_b), real_a),     # A -> B -> A
           "cycle_b": F.l1_loss(G["ab"](fake_a), real_b)}     # B -> A -> B
    return out


def to_float(images: Tensor) -> Tensor:
    return images.float() / 127.5 - 1.0


class CycleGANGame(Game):
    def __init__(self, cfg: TranslateConfig, info: DistInfo):
        self.cfg, self.info, self.device = cfg, info, info.device
        load = dict(image_size=cfg.load_size or cfg.image_size, channels=cfg.channels, root=cfg.data_root,
                    seed=cfg.seed)
        self.train_a = load_domain(cfg.domain_a, "train", side="A", limit=cfg.limit, **load)
        self.train_b = load_domain(cfg.domain_b, "train", side="B", limit=cfg.limit, **load)
        test = dict(load, image_size=cfg.image_size, limit=cfg.eval_samples)
        self.test_a = load_domain(cfg.domain_a, "test", side="A", **test)
        self.test_b = load_domain(cfg.domain_b, "test", side="B", **test)
        for domain, label in ((self.train_a, "domain_a"), (self.train_b, "domain_b"), (self.test_a, "domain_a"),
                              (self.test_b, "domain_b")):
            check_domain(domain, label)
        if min(len(self.train_a), len(self.train_b)) < cfg.batch_size:
            raise ConfigError(f"batch_size: {cfg.batch_size} is more than a domain's {min(len(self.train_a), len(self.train_b))} "
                              f"training images")
        self.train_a.x, self.train_b.x = self.train_a.x.to(self.device), self.train_b.x.to(self.device)
        torch.manual_seed(cfg.seed)
        c = cfg.channels
        gen = dict(ngf=cfg.ngf, n_blocks=cfg.n_blocks)
        self.G = nn.ModuleDict({"ab": ResnetGenerator(c, c, **gen), "ba": ResnetGenerator(c, c, **gen)})
        self.D = nn.ModuleDict({"a": PatchDiscriminator(c, cfg.ndf, cfg.n_layers),
                                "b": PatchDiscriminator(c, cfg.ndf, cfg.n_layers)})
        for net in (self.G, self.D):
            init_weights(net)
            net.to(self.device)
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.phases = [Phase("G", (Player("G", self.G, torch.optim.Adam(self.G.parameters(), **adam), cfg.lr),)),
                       Phase("D", (Player("D", self.D, torch.optim.Adam(self.D.parameters(), **adam), cfg.lr),))]
        self.pools = {"a": ImagePool(cfg.pool_size), "b": ImagePool(cfg.pool_size)}
        batch = dict(seed=cfg.seed, last="drop", device=self.device)
        self.batches_a = BatchSampler(len(self.train_a), cfg.batch_size, stream=0, **batch)
        self.batches_b = BatchSampler(len(self.train_b), cfg.batch_size, stream=1, **batch)
        self.steps_per_epoch = max(len(self.train_a), len(self.train_b)) // cfg.batch_size
        self.total = cfg.epochs * self.steps_per_epoch
        self.lr_schedule = linear_decay(self.total, start=cfg.lr_decay_start)
        self._fakes: dict[str, Tensor] = {}

    # --- what the loop asks ---

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D, "pool_a": self.pools["a"], "pool_b": self.pools["b"]}

    def step_seed(self, step: int) -> int:
        return self.cfg.seed * 1_000_003 + step   # crops, flips and the pools' draws: functions of the step

    def checkpoint_meta(self, step: int) -> dict:
        return {"kind": "translation", "config": self.cfg.to_dict()}

    def describe(self, row: dict) -> str:
        return f"G {row['g_loss']:.3f}  D {row['d_loss']:.3f}  cycle {row['cycle_a'] + row['cycle_b']:.3f}"

    def loss(self, phase: Phase, step: int, repeat: int):
        if phase.name == "G":
            return self._g_loss(step)
        return self._d_loss()

    def batch(self, domain: Domain, sampler: BatchSampler, step: int) -> Tensor:
        """Step ``step``'s images of a domain: random crop (load_size -> image_size) and flip, in [-1, 1]."""
        x = to_float(domain.x[sampler(step)])
        size = self.cfg.image_size
        if x.shape[-1] > size:
            top, left = (int(v) for v in torch.randint(x.shape[-1] - size + 1, (2,)))
            x = x[..., top:top + size, left:left + size]
        if self.cfg.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x

    def _g_loss(self, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        real_a = self.batch(self.train_a, self.batches_a, step)
        real_b = self.batch(self.train_b, self.batches_b, step)
        out = cycle_losses(self.G, real_a, real_b)
        adv_ab = lsgan(self.D["b"](out["fake_b"]), True)
        adv_ba = lsgan(self.D["a"](out["fake_a"]), True)
        loss = adv_ab + adv_ba + cfg.lambda_cycle * (out["cycle_a"] + out["cycle_b"])
        stats = {"adv_ab": adv_ab.detach(), "adv_ba": adv_ba.detach(), "cycle_a": out["cycle_a"].detach(),
                 "cycle_b": out["cycle_b"].detach()}
        if cfg.lambda_identity:
            # G_ab shown an image already in B should leave it alone (and G_ba one in A): keeps colours
            idt = F.l1_loss(self.G["ab"](real_b), real_b) + F.l1_loss(self.G["ba"](real_a), real_a)
            loss = loss + cfg.lambda_identity * cfg.lambda_cycle * idt
            stats["identity"] = idt.detach()
        self._reals = {"a": real_a, "b": real_b}
        self._fakes = {"a": out["fake_a"].detach(), "b": out["fake_b"].detach()}
        return loss, stats

    def _d_loss(self) -> tuple[Tensor, dict[str, Tensor]]:
        total, stats = 0.0, {}
        for side in ("a", "b"):
            fake = self.pools[side].query(self._fakes[side])
            d = 0.5 * (lsgan(self.D[side](self._reals[side]), True) + lsgan(self.D[side](fake), False))
            stats[f"d_{side}"] = d.detach()
            total = total + d
        return total, stats

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str, batch: int = 64) -> Tensor:
        """uint8 or [-1, 1] images of one domain into the other (``ab`` or ``ba``), in [-1, 1], eval mode."""
        G = self.G[direction]
        was = G.training
        G.eval()
        try:
            x = to_float(images) if images.dtype == torch.uint8 else images
            return torch.cat([G(x[i:i + batch].to(self.device)).cpu() for i in range(0, len(x), batch)])
        finally:
            G.train(was)
