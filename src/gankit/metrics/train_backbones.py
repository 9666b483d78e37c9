"""Train the feature backbones that ship in ``gankit/metrics/weights/``: a game on the one loop.

    gankit backbone train mnist --data-root ../shared/data
    gankit backbone train all --data-root ../shared/data --threads 1

One recipe per dataset (``gankit/configs/backbones/*.yaml``, overridable with ``--set``), a
fixed seed, batches indexed from in-memory tensors in a seeded random order. The official
test split is touched once, after the last epoch, to record the accuracy; nothing is
selected on it. Recipes were chosen with ``holdout: N``: that trains on the train split
minus N held-out images, reports the accuracy on those N and writes no weights.

Each run trains in a run folder (checkpoints, Ctrl-C, exact resume) and then writes
``<dataset>.safetensors`` and ``<dataset>.json`` atomically (the JSON last, with the tensor
file's SHA-256). docs/backbones.md is rendered from those JSON files by
``benchmarks/backbones_doc.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

import gankit
from gankit.checkpoint import atomic_write_bytes, atomic_write_text
from gankit.config import RECIPES_DIR as GAN_RECIPES, load_recipe, raise_problems
from gankit.data import Dataset, load_dataset, resolve_data_root
from gankit.data.augment import random_hflip, random_shift
from gankit.errors import ConfigError, GankitError
from gankit.loop import BatchSampler, Game, GeneratorState, LoopSettings, Phase, Player, Trainer, cosine
from gankit.metrics.backbones import FORMAT_VERSION, DomainClassifier, sha256_file
from gankit.runs import RunFolder, machine_description, new_run_dir

__all__ = ["BackboneConfig", "BackboneGame", "RECIPES_DIR", "TARGETS", "TrainedBackbone", "load_backbone_config",
           "save_backbone", "train_backbone"]

RECIPES_DIR = GAN_RECIPES / "backbones"
TARGETS = {"mnist": 0.993, "fashion-mnist": 0.92, "digits": 0.95}  # test accuracy the weights must reach


@dataclass
class BackboneNet:
    """DomainClassifier arguments besides the data's shape."""

    width: int = 32
    feature_dim: int = 128
    convs_per_block: int = 1
    dropout: float = 0.3


@dataclass
class BackboneConfig:
    """Everything that decides a backbone's training; a recipe YAML maps onto it one-to-one."""

    name: str = "backbone"
    description: str = ""
    dataset: Literal["mnist", "fashion-mnist", "digits"] = "mnist"
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3            # peak learning rate of AdamW
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to 0
    shift: int = 2              # random translation by up to this many pixels (padding with -1 = black)
    hflip: bool = False         # random horizontal flips
    model: BackboneNet = field(default_factory=BackboneNet)
    seed: int = 0
    holdout: int = 0            # > 0: train on train minus N images, score on those N (recipe search)
    data_root: Optional[str] = None
    out_dir: str = "runs"

    def check(self) -> None:
        errors = [f"{k}: must be > 0, got {getattr(self, k)}" for k in ("epochs", "batch_size", "lr")
                  if not getattr(self, k) > 0]
        errors += [f"{k}: must be >= 0, got {getattr(self, k)}" for k in ("weight_decay", "warmup_epochs", "shift",
                                                                          "holdout") if getattr(self, k) < 0]
        errors += [f"model.{k}: must be > 0, got {getattr(self.model, k)}"
                   for k in ("width", "feature_dim", "convs_per_block") if getattr(self.model, k) < 1]
        if not 0 <= self.model.dropout < 1:
            errors.append(f"model.dropout: must be in [0, 1), got {self.model.dropout}")
        raise_problems(errors, "backbone configuration")

    def recipe(self) -> dict:
        """The settings that decide the weights (besides seed and data), as the JSON record keeps them."""
        keys = ("epochs", "batch_size", "lr", "weight_decay", "warmup_epochs", "shift", "hflip", "model")
        return {k: v for k, v in dataclasses.asdict(self).items() if k in keys}


def load_backbone_config(recipe: str | Path, overrides: Sequence[str] = ()) -> BackboneConfig:
    """A backbone recipe (mnist, fashion-mnist, digits, or a YAML path) with ``key=value`` overrides."""
    return load_recipe(BackboneConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="backbone recipe")


@dataclass
class TrainedBackbone:
    model: DomainClassifier
    record: dict  # what goes into the JSON (without sha256 until saved)


@torch.no_grad()
def predict(model: DomainClassifier, x_uint8: Tensor, batch_size: int = 1000) -> Tensor:
    model.eval()
    out = [model(x_uint8[i:i + batch_size].float() / 127.5 - 1.0).argmax(1)
           for i in range(0, x_uint8.shape[0], batch_size)]
    return torch.cat(out)


def _data_digest(x: Tensor, y: Tensor) -> str:
    h = hashlib.sha256()
    h.update(x.contiguous().numpy().tobytes())
    h.update(y.contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not on every platform
        return None


class BackboneGame(Game):
    """One player, a DomainClassifier, trained by cross-entropy on augmented images.

    Batch order and augmentation share one seeded stream (checkpointed with the run); dropout
    and the initial weights come from torch's stream seeded with the same seed.
    """

    def __init__(self, cfg: BackboneConfig, images: tuple[Tensor, Tensor] | None = None):
        """``images``: (uint8 (N, C, H, W), labels) to train on instead of ``cfg.dataset``'s training split
        (e.g. the evaluation classifier of a translation's target domain)."""
        self.cfg = cfg
        root = None if cfg.dataset == "digits" or images is not None else resolve_data_root(cfg.data_root)
        self.root = root
        train = load_dataset(cfg.dataset, root=root, split="train") if images is None else \
            Dataset(x=images[0], y=images[1], num_classes=int(images[1].max()) + 1, name=cfg.dataset)
        x_all, y_all = train.x, train.y
        if cfg.holdout:
            if not 0 < cfg.holdout < len(train):
                raise ConfigError(f"holdout: must be between 1 and {len(train) - 1}, got {cfg.holdout}")
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(10_000 + cfg.seed))
            self.x_train, self.y_train = x_all[order[:-cfg.holdout]], y_all[order[:-cfg.holdout]]
            self.x_eval, self.y_eval = x_all[order[-cfg.holdout:]], y_all[order[-cfg.holdout:]]
        else:
            self.x_train, self.y_train = x_all, y_all
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        c, h, _ = train.sample_shape
        model = DomainClassifier(in_channels=c, image_size=h, num_classes=train.num_classes,
                                 **dataclasses.asdict(cfg.model))
        self.model = model.to(memory_format=torch.channels_last)  # about 30 % faster convolutions on CPU
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.phases = [Phase("model", (Player("model", self.model, opt, cfg.lr, log=False),))]
        n = self.x_train.shape[0]
        self.sampler = BatchSampler(n, cfg.batch_size, last="partial",
                                    permutation=lambda epoch: torch.randperm(n, generator=self.gen))
        self.steps_per_epoch = self.sampler.per_epoch
        self.total = self.steps_per_epoch * cfg.epochs
        self.lr_schedule = cosine(self.total, warmup=max(1, int(cfg.warmup_epochs * self.steps_per_epoch)))

    def modules(self) -> dict:
        return {"model": self.model, "batch_rng": GeneratorState(self.gen), "batches": self.sampler}

    def checkpoint_meta(self, step: int) -> dict:
        return {"config": dataclasses.asdict(self.cfg)}

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        idx = self.sampler(step)
        x = self.x_train[idx].float() / 127.5 - 1.0
        y = self.y_train[idx]
        x = random_shift(x, self.cfg.shift, fill=-1.0, generator=self.gen)
        if self.cfg.hflip:
            x = random_hflip(x, self.gen)
        logits = self.model(x.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.detach(), "train_acc": (logits.detach().argmax(1) == y).float().mean()}

    def describe(self, row: dict) -> str:
        epoch = math.ceil(row["step"] / self.steps_per_epoch)
        return f"epoch {epoch}/{self.cfg.epochs}  loss {row['loss']:.4f}  train acc {row['train_acc']:.4f}"


def command_line(cfg: BackboneConfig, threads: int | None = None) -> str:
    """The command that trains this backbone again (from the repository root)."""
    cmd = f"gankit backbone train {cfg.dataset}"
    default = load_backbone_config(cfg.dataset)
    for key in ("epochs", "seed"):
        if getattr(cfg, key) != getattr(default, key):
            cmd += f" --set {key}={getattr(cfg, key)}"
    if threads:
        cmd += f" --threads {threads}"
    if cfg.data_root:
        cmd += f" --data-root {cfg.data_root}"
    return cmd


def train_backbone(cfg: BackboneConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                   threads: int | None = None, progress: bool = True) -> TrainedBackbone:
    """Train the backbone ``cfg`` describes; return the model and its record.

    holdout > 0: train on the train split minus ``holdout`` images (a seeded random
    choice) and score on those; the test split is not read. holdout = 0: train on
    the whole train split and score on the official test split, once, at the end.
    threads: torch's CPU thread count during training (default: leave it as it is);
    the previous count is restored afterwards.
    """
    if threads is not None and threads < 1:
        raise GankitError(f"--threads must be at least 1, got {threads}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        game = BackboneGame(cfg)
        settings = LoopSettings(steps=game.total, log_every=game.steps_per_epoch, ckpt_minutes=5.0,
                                keep_ckpts=2, label=cfg.dataset, resume_command="gankit backbone train --resume {run}")
        path = run_dir or new_run_dir(cfg.out_dir, f"backbone-{cfg.dataset}")
        with RunFolder(path, resume=resume) as run:
            run.write_config(dataclasses.asdict(cfg))
            if not resume:
                run.write_meta(cfg.seed, "cpu")
            load_before = _load_average()
            result = Trainer(game, run, settings, resume=resume).run(progress)
            load_after = _load_average()
        if result.interrupted:
            raise GankitError(f"training stopped at step {result.step} of {game.total}; no weights were written. "
                              f"Resume with: gankit backbone train --resume {run.path}")
        return TrainedBackbone(model=game.model, record=_record(game, cfg, result.wall_seconds,
                                                                (load_before, load_after), threads))
    finally:
        torch.set_num_threads(before)


def _record(game: BackboneGame, cfg: BackboneConfig, seconds: float, load: tuple, threads: int | None) -> dict:
    """Score the trained model once (test split, or the held-out images) and describe the run."""
    if not cfg.holdout:  # the official test split, read once, after training
        test = load_dataset(cfg.dataset, root=game.root, split="test")
        game.x_eval, game.y_eval = test.x, test.y
    model = game.model.to(memory_format=torch.contiguous_format)
    errors = int((predict(model, game.x_eval) != game.y_eval).sum())
    accuracy = 1.0 - errors / len(game.y_eval)
    model.eval().requires_grad_(False)
    scores = ({"holdout_accuracy": accuracy, "holdout_errors": errors} if cfg.holdout else
              {"test_accuracy": accuracy, "test_errors": errors, "test_size": len(game.y_eval)})
    return {
        "format": FORMAT_VERSION,
        "dataset": cfg.dataset,
        "model": model.config(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "eval_split": f"held-out {cfg.holdout} of train" if cfg.holdout else "test",
        **scores,
        "target_accuracy": TARGETS[cfg.dataset],
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "recipe": cfg.recipe(),
        "train_size": game.x_train.shape[0],
        "train_data_sha256": _data_digest(game.x_train, game.y_train),
        "train_seconds": round(seconds, 1),
        # 1-minute load averages around the training loop: other work on the machine slows it down
        "load_average": {"before": load[0], "after": load[1]},
        "command": command_line(cfg, threads),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "gankit_version": gankit.__version__,
        "python_version": platform.python_version(),
        "machine": machine_description("cpu"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def save_backbone(trained: TrainedBackbone, out_dir: Path) -> Path:
    """Write ``<dataset>.safetensors`` then ``<dataset>.json`` (with the SHA-256) atomically."""
    record = dict(trained.record)
    if "test_accuracy" not in record:
        raise GankitError("refusing to save a holdout run: shipped weights are trained on the full train split")
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in trained.model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tensors.")
    os.close(fd)
    try:
        # no metadata: safetensors writes a metadata dict in arbitrary key order, which would make
        # the bytes (and the SHA-256) of identical weights differ between runs; the JSON has it all
        save_file(tensors, tmp)
        data = Path(tmp).read_bytes()
    finally:
        Path(tmp).unlink(missing_ok=True)
    st_path = out_dir / f"{record['dataset']}.safetensors"
    atomic_write_bytes(st_path, data)
    record["sha256"] = hashlib.sha256(data).hexdigest()
    record["weights_bytes"] = len(data)
    if sha256_file(st_path) != record["sha256"]:
        raise GankitError(f"{st_path}: the file on disk does not match what was written")
    json_path = st_path.with_suffix(".json")
    atomic_write_text(json_path, json.dumps(record, indent=1) + "\n")
    for p in (st_path, json_path):  # the temp files are private (0600); package data is world-readable
        p.chmod(0o644)
    return json_path
