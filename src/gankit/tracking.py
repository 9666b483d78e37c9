"""FID while training: score the generator every ``train.eval_every`` steps, keep the best.

GAN losses say little about sample quality, and the last checkpoint is often not the
best one (late collapse, oscillation). With ``train.eval_every=N`` the loop calls a
:class:`FIDTracker` after every N-th step. It draws ``train.eval_samples`` samples
from fixed noise (so the numbers are comparable over time), computes the FID on the
dataset's domain backbone (the FID Inception-v3 for CIFAR-10) against as many images of the real *test* split, appends
``{"step", "fid"}`` to RUN/evals.jsonl, redraws RUN/fid_curve.png, and saves the
generator with the lowest FID so far to RUN/best/ (a normal checkpoint: ``gankit
sample RUN/best`` and ``gankit evaluate RUN/best`` work on it).

It is a fast progress signal, not the final measurement: use ``gankit evaluate`` on
the chosen checkpoint for the full table with floors (choosing a checkpoint by its
test-split FID makes that FID slightly optimistic; the floor and the other metrics
are unaffected).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
import torch

from gankit import checkpoint
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.metrics.backbones import BACKBONES, NATURAL_IMAGES, extract, load_backbone
from gankit.metrics.inception import load_inception
from gankit.metrics.quality import fid
from gankit.runs import MetricsLog
from gankit.viz import read_metrics, save_fid_curve

EVAL_SEED = 2024      # the fixed noise the generator is scored on
BATCH = 500


class FIDTracker:
    """A loop callback (``callback(step, trainer)``) that scores a GAN game's generator.

    ``game``: a gankit.game.GANGame; ``step``: where the run starts (past evaluations are
    forgotten beyond it on resume, like metrics.jsonl).
    """

    def __init__(self, game, run_dir: Path, step: int = 0):
        d, t = game.cfg.data, game.cfg.train
        self.game = game
        self.every, self.last_step = t.eval_every, t.steps
        self.is_main = game.info.is_main
        self.device = game.info.device
        if d.name in NATURAL_IMAGES:  # a missing weights file stops here, before training starts
            self.backbone = load_inception(None, self.device, data_root=d.root)
        elif d.name in BACKBONES:
            self.backbone = load_backbone(d.name, self.device)
        else:
            raise ConfigError(f"train.eval_every: FID during training needs a feature backbone, and there "
                              f"is none for {d.name!r} (domain backbones: {', '.join(BACKBONES)}; "
                              f"Inception-v3 for {', '.join(NATURAL_IMAGES)}); set train.eval_every=0")
        channels = getattr(self.backbone, "in_channels", game.data.sample_shape[0])
        if channels != game.data.sample_shape[0]:
            raise ConfigError(f"train.eval_every: the {d.name} backbone reads {self.backbone.in_channels}-"
                              f"channel images; this run makes {game.data.sample_shape[0]}-channel ones")
        test = load_dataset(d.name, root=d.root, split="test", image_size=d.image_size, channels=d.channels)
        g = torch.Generator().manual_seed(EVAL_SEED)
        rows = torch.randperm(len(test), generator=g)[:t.eval_samples]
        self.real_feats = self._features(test.x[rows])
        self.z = game.noise(len(rows), g)
        k = game.num_classes
        self.y = torch.arange(len(rows), device=self.device) % k if k else None
        self.run_dir = Path(run_dir)
        self.log_path = self.run_dir / "evals.jsonl"
        resumed = step > 0
        if self.is_main:  # on resume, forget evaluations past the checkpoint, like metrics.jsonl
            self.log = MetricsLog(self.log_path, step if resumed else None)
        past = [r["fid"] for r in read_metrics(self.log_path)] if resumed else []
        self.best = min(past, default=math.inf)

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features of uint8 (real) or [-1, 1] (generated) images; extract batches them."""
        return extract(self.backbone, images, batch_size=BATCH)[0].cpu()

    def __call__(self, step: int, trainer=None) -> None:
        if step % self.every and step != self.last_step:
            return
        if not self.is_main:  # scoring is rank 0's job; the others go on training
            return
        G = self.game.sample_generator()
        fake = torch.cat([self.game.generate(G, self.z[i:i + BATCH], None if self.y is None
                                             else self.y[i:i + BATCH]).clamp(-1, 1)
                          for i in range(0, len(self.z), BATCH)])
        score = fid(self.real_feats, self._features(fake))
        self.log.append([{"step": step, "fid": score}])
        if score < self.best:
            self.best = score
            self._save_best(step, score)
        save_fid_curve(self.log_path, self.run_dir / "fid_curve.png")

    def _save_best(self, step: int, score: float) -> None:
        # Rank 0's own copy: BatchNorm statistics are not averaged over ranks here (that needs
        # every rank, and the others are not scoring).
        checkpoint.save_checkpoint(
            self.run_dir / "best", step, modules=self.game.modules(), optimizers={},
            meta={**self.game.checkpoint_meta(step), "fid": score, "eval_samples": len(self.z)}, keep=1)


def best_record(run_dir: Path) -> dict | None:
    """The JSON record of RUN/best's checkpoint, or None."""
    found = checkpoint.list_checkpoints(Path(run_dir) / "best")
    return json.loads(found[-1].read_text()) if found else None
