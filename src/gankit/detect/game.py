"""Training a real-vs-generated detector: a game on the one loop.

    >>> from gankit.detect import load_detect_config, train_detector
    >>> cfg = load_detect_config("wang2020_small", ['fake=["runs/dcgan-mnist"]'])
    >>> trained = train_detector(cfg, out="runs/detect-dcgan")

The training set is ``n_train`` real images (a seeded random subset of the train split) and as
many generated ones (noise seed ``noise_seed``, shared evenly among the fake runs; never the
evaluation seed). Each step draws a batch of both in a seeded order, blurs and JPEG-compresses
them as Wang et al. 2020 did, and takes one AdamW step on the binary cross-entropy (generated = 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.detect.config import DetectConfig
from gankit.detect.images import generated_images, load_fake_source, real_images, to_float
from gankit.detect.model import build_detector
from gankit.detect.perturb import blur_jpeg
from gankit.errors import DataError
from gankit.loop import BatchSampler, Game, GeneratorState, LoopSettings, Phase, Player, Trainer, cosine
from gankit.runs import RunFolder, new_run_dir

__all__ = ["DetectorGame", "TrainedDetector", "train_detector", "training_images"]


def training_images(cfg: DetectConfig) -> tuple[Tensor, Tensor]:
    """The detector's training set: uint8 images and labels (0 real, 1 generated), real first."""
    real = real_images(cfg.real, "train", cfg.n_train, cfg.seed, cfg.data_root)
    shares = [cfg.n_train // len(cfg.fake) + (i < cfg.n_train % len(cfg.fake)) for i in range(len(cfg.fake))]
    fakes = []
    for i, (run, share) in enumerate(zip(cfg.fake, shares)):
        # run i draws from seed 1000 * noise_seed + i: its own stream, never 0 (the evaluation samples')
        fake = generated_images(load_fake_source(run), share, cfg.noise_seed * 1000 + i)
        if fake.shape[1:] != real.shape[1:]:
            raise DataError(f"fake: {run} makes images of shape {tuple(fake.shape[1:])}, but {cfg.real} images "
                            f"are {tuple(real.shape[1:])}")
        fakes.append(fake)
    x = torch.cat([real, *fakes])
    y = torch.cat([torch.zeros(len(real)), torch.ones(cfg.n_train)])
    return x, y


class DetectorGame(Game):
    """One player, the detector CNN, trained by binary cross-entropy on augmented real and generated images.

    Batch order and augmentation share one seeded stream (checkpointed); the initial weights and
    dropout come from torch's stream seeded with the same seed.
    """

    def __init__(self, cfg: DetectConfig):
        cfg.check()
        self.cfg = cfg
        self.x, self.y = training_images(cfg)
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.model = build_detector(tuple(self.x.shape[1:]), **dataclasses.asdict(cfg.model))
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.phases = [Phase("detector", (Player("detector", self.model, opt, cfg.lr, log=False),))]
        n = len(self.x)
        self.sampler = BatchSampler(n, min(cfg.batch_size, n), last="wrap",
                                    permutation=lambda epoch: torch.randperm(n, generator=self.gen))
        self.lr_schedule = cosine(cfg.steps, warmup=min(cfg.warmup_steps, cfg.steps - 1))
        self.augment = cfg.augment.kwargs()

    def modules(self) -> dict:
        return {"model": self.model, "batch_rng": GeneratorState(self.gen), "batches": self.sampler}

    def checkpoint_meta(self, step: int) -> dict:
        """What gankit.detect.model.load_detector needs to rebuild the detector, and what it learnt from."""
        return {"kind": "detector", "model": self.model.config(), "real": self.cfg.real, "fake": list(self.cfg.fake),
                "config": dataclasses.asdict(self.cfg), "torch": torch.__version__}

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        idx = self.sampler(step)
        x = blur_jpeg(self.x[idx], self.gen, **self.augment)
        y = self.y[idx]
        logits = self.model(to_float(x).contiguous(memory_format=torch.channels_last))[:, 0]
        loss = F.binary_cross_entropy_with_logits(logits, y)
        return loss, {"loss": loss.detach(), "train_acc": ((logits.detach() > 0) == (y > 0)).float().mean()}

    def describe(self, row: dict) -> str:
        return f"loss {row['loss']:.4f}  train acc {row['train_acc']:.3f}"


@dataclass
class TrainedDetector:
    model: torch.nn.Module
    run_dir: Path
    step: int
    finished: bool   # False when Ctrl-C or SIGTERM stopped it early
    seconds: float


def train_detector(cfg: DetectConfig, *, out: str | Path | None = None, resume: bool = False,
                   progress: bool = True) -> TrainedDetector:
    """Train (or, with ``resume``, continue) a detector into the run folder ``out``
    (default: runs/NAME-REAL-TIME). The last checkpoint is the detector `gankit detect score` reads."""
    cfg.check()
    path = Path(out) if out is not None else new_run_dir(cfg.out_dir, f"{cfg.name}-{cfg.real}")
    RunFolder.check(path, resume)
    game = DetectorGame(cfg)   # data and model first: a bad input leaves no run folder behind
    settings = LoopSettings(steps=cfg.steps, log_every=50, ckpt_minutes=cfg.checkpoint_minutes, keep_ckpts=2,
                            label="detector", resume_command="gankit detect train --resume {run}")
    with RunFolder(path, resume=resume) as run:
        run.write_config(dataclasses.asdict(cfg))
        if not resume:
            run.write_meta(cfg.seed, "cpu")
        result = Trainer(game, run, settings, resume=resume).run(progress)
    return TrainedDetector(game.model.eval(), path, result.step, not result.interrupted, result.wall_seconds)
