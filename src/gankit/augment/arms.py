"""One arm: the classifier trained on the loop from its own kind of batch (real, augmented, generated).

Every arm trains the same DomainClassifier from the same initial weights, for the same steps, on batches
of the same size; only where a batch's images come from differs (gankit.augment.config.ARMS).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.attacks.train import accuracy
from gankit.augment.config import ARMS, AugmentConfig
from gankit.data import Dataset
from gankit.data.augment import random_affine
from gankit.game import sample_noise
from gankit.loop import Game, GeneratorState, Phase, Player, cosine
from gankit.metrics.backbones import DomainClassifier

CANDIDATES = 4   # the filtered arm draws this many generated images per slot and keeps the agreed ones


class ArmGame(Game):
    """A classifier against nobody: one player, cross-entropy on the arm's batches.

    Batch indices, class labels and noise for generated images, and the classic augmentation all come
    from one seeded generator (checkpointed), so a resumed arm trains exactly as an uninterrupted one.
    """

    def __init__(self, cfg: AugmentConfig, arm: str, train: Dataset, device: torch.device,
                 generator: nn.Module | None = None, z_dim: int = 0, noise: str = "normal",
                 reference: nn.Module | None = None):
        classic, ratio, self.filtered = ARMS[arm]
        ratio = cfg.gan_ratio if ratio is None else ratio
        self.cfg, self.arm, self.classic, self.device = cfg, arm, classic, device
        self.n_fake = round(cfg.batch_size * ratio)
        self.n_real = cfg.batch_size - self.n_fake
        if self.n_fake and generator is None:
            raise ValueError(f"arm {arm!r} needs a generator")
        if self.filtered and reference is None:
            raise ValueError(f"arm {arm!r} needs the real arm's classifier to filter with")
        self.G, self.z_dim, self.noise_kind, self.reference = generator, z_dim, noise, reference
        self.x, self.y = train.x.to(device), train.y.to(device)
        self.num_classes, self.class_names = train.num_classes, train.class_names
        torch.manual_seed(cfg.seed)   # the same initial weights in every arm
        c, h, _ = train.sample_shape
        self.model = DomainClassifier(in_channels=c, image_size=h, num_classes=train.num_classes,
                                      **dataclasses.asdict(cfg.model)).to(device)
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.phases = [Phase("model", (Player("model", self.model, opt, cfg.lr, log=False),))]
        self.lr_schedule = cosine(cfg.steps, warmup=min(cfg.warmup_steps, cfg.steps - 1))
        self.gen = torch.Generator().manual_seed(cfg.seed)

    def modules(self) -> dict:
        return {"model": self.model, "batch_rng": GeneratorState(self.gen)}

    def checkpoint_meta(self, step: int) -> dict:
        """Enough to rebuild the classifier anywhere: `gankit attack` and `gankit classify` read it."""
        return {"config": self.cfg.to_dict(), "arm": self.arm, "class_names": self.class_names,
                "image_shape": list(self.x.shape[1:]),
                **({"dataset": self.cfg.dataset} if self.cfg.dataset != "folder" else {}),
                "classifier": {"target": "gankit.metrics.backbones:DomainClassifier",
                               "kwargs": self.model.config(), "module": "model", "input_range": [-1, 1]}}

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        x, y, stats = self.batch()
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.detach(), "train_acc": (logits.detach().argmax(1) == y).float().mean(), **stats}

    def describe(self, row: dict) -> str:
        kept = f"  kept {row['kept']:.2f}" if "kept" in row else ""
        return f"{self.arm}: loss {row['loss']:.4f}  train acc {row['train_acc']:.3f}{kept}"

    # --- where the batch comes from ---

    def batch(self) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        xs, ys, stats = [], [], {}
        if self.n_real:
            idx = torch.randint(len(self.y), (self.n_real,), generator=self.gen).to(self.device)
            x = self.x[idx].float() / 127.5 - 1.0
            if self.classic:
                x = random_affine(x, generator=self.gen)
            xs.append(x)
            ys.append(self.y[idx])
        if self.n_fake:
            x, y, kept = self.generated(self.n_fake)
            xs.append(x)
            ys.append(y)
            if kept is not None:
                stats["kept"] = kept
        return torch.cat(xs), torch.cat(ys), stats

    @torch.no_grad()
    def generate(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` generated images of random classes, and the classes they were asked for."""
        y = torch.randint(self.num_classes, (n,), generator=self.gen).to(self.device)
        z = sample_noise(n, self.z_dim, self.noise_kind, self.device, self.gen)
        self.G.eval()
        return self.G(z, y).float().clamp(-1, 1), y

    @torch.no_grad()
    def generated(self, n: int) -> tuple[Tensor, Tensor, Tensor | None]:
        if not self.filtered:
            return *self.generate(n), None
        x, y = self.generate(CANDIDATES * n)
        self.reference.eval()
        agree = torch.softmax(self.reference(x), 1).gather(1, y[:, None]).squeeze(1)
        passed = agree >= self.cfg.filter_confidence
        # the passing ones first, in drawn order; too few: the most agreed of the rest fill the batch
        order = torch.argsort(torch.where(passed, 2.0 + torch.arange(len(y), 0, -1, device=y.device) / len(y),
                                          agree), descending=True)[:n]
        return x[order], y[order], passed.float().mean()


def test_errors(model: nn.Module, test: Dataset, device: torch.device) -> int:
    """Misclassified test images ([-1, 1] in, as the arms train), the model in eval mode."""
    x = test.x.to(device).float() / 127.5 - 1.0
    return len(test) - round(accuracy(model, x, test.y.to(device)) * len(test))
