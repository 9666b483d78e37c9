"""A classifier trainer with adversarial training as an option: clean, FGSM (2015) or PGD (Madry).

    >>> from gankit.attacks.train import RobustTrainConfig, train_classifier
    >>> result = train_classifier(RobustTrainConfig(defence="pgd", eps=0.3, epochs=2), out="runs/pgd")

Each step draws a batch (a seeded permutation per epoch, so a resumed run sees the
same batches), builds its training inputs according to ``defence``, and takes one
optimizer step:

* ``none``: cross-entropy on clean images;
* ``fgsm``: Goodfellow et al. 2015 (https://arxiv.org/abs/1412.6572, eq. 6):
  ``alpha * J(x, y) + (1 - alpha) * J(x + eps * sign(grad_x J(x, y)), y)`` with alpha = 0.5;
* ``pgd``: Madry et al. 2018 (https://arxiv.org/abs/1706.06083): cross-entropy on the
  last PGD iterate from a random start (the inner maximization of their saddle-point problem).

``eps_warmup`` ramps eps linearly from 0 over that many epochs (a curriculum that helps
short PGD runs on MNIST escape the constant-prediction plateau). The run folder gets
``config.json``, ``metrics.jsonl`` and ``checkpoints/ckpt-*.json/.safetensors`` whose JSON
records the architecture, so :func:`gankit.attacks.adapters.load_classifier` rebuilds the model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn

from gankit.attacks.base import _check_number
from gankit.attacks.models import MODELS, build_model
from gankit.attacks.pgd import PGD
from gankit.checkpoint import atomic_write_text, find_checkpoint, read_checkpoint, restore, save_checkpoint
from gankit.errors import ConfigError
from gankit.runs import MetricsLog, stop_on_signal

__all__ = ["DEFENCES", "RobustTrainConfig", "TrainResult", "train_classifier", "accuracy"]

DEFENCES = ("none", "fgsm", "pgd")


@dataclass
class RobustTrainConfig:
    dataset: str = "mnist"            # mnist or fashion-mnist (any gankit image dataset with labels)
    data_root: str | None = None      # folder with mnist/ ... (default: GANKIT_DATA)
    arch: str = "madry"               # a key of gankit.attacks.models.MODELS
    width: float = 1.0                # madry only: channel multiplier (1: 32/64 as published)
    hidden: int | None = None         # units of the hidden fc layer (None: the architecture's default)
    defence: str = "none"             # none | fgsm | pgd
    eps: float = 0.3                  # Linf radius of the training attack
    fgsm_mix: float = 0.5             # Goodfellow's alpha: weight of the clean loss
    pgd_steps: int = 40               # Madry et al.: 40 steps of 0.01 at eps 0.3
    pgd_alpha: float | None = 0.01    # None: 2.5 * eps / pgd_steps
    eps_warmup: float = 0.0           # epochs over which eps ramps up from 0
    epochs: float = 1.0               # may be fractional
    batch_size: int = 50              # Madry et al.: 50
    lr: float = 1e-3                  # Adam; Madry et al. used 1e-4 for 100k steps
    lr_schedule: str = "cosine"       # constant | cosine (to 0 at the last step)
    n_train: int | None = None        # random training subset (None: all)
    max_minutes: float | None = None  # stop (and checkpoint) after this much wall time
    checkpoint_minutes: float = 10.0  # also checkpoint this often
    eval_n: int = 10000               # test images for the final clean accuracy
    seed: int = 0
    device: str = "cpu"

    def check(self) -> None:
        if self.defence not in DEFENCES:
            raise ConfigError(f"defence must be one of {', '.join(DEFENCES)}, got {self.defence!r}")
        if self.arch not in MODELS:
            raise ConfigError(f"arch must be one of {', '.join(MODELS)}, got {self.arch!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        for name in ("eps", "eps_warmup", "lr", "epochs"):
            _check_number(name, getattr(self, name), low=0.0)
        if not 0.0 <= self.fgsm_mix <= 1.0:
            raise ConfigError(f"fgsm_mix must be in [0, 1], got {self.fgsm_mix}")
        for name in ("batch_size", "pgd_steps", "eval_n"):
            _check_number(name, getattr(self, name), low=1, integer=True)


@dataclass
class TrainResult:
    model: nn.Module
    step: int
    test_accuracy: float
    checkpoint: Path | None
    finished: bool  # False when max_minutes stopped it early


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of x (floats in [0, 1]) classified as y; the model's mode is left as it was."""
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    model.train(was)
    return correct / max(len(x), 1)


def _images(ds, idx: Tensor | slice, device: torch.device) -> Tensor:
    return ds.x[idx].to(device).float().div_(255.0)


class _Trainer:
    def __init__(self, cfg: RobustTrainConfig, out: Path | None):
        from gankit.data import load_dataset
        cfg.check()
        self.cfg, self.out = cfg, out
        self.device = torch.device(cfg.device)
        self.train_ds = load_dataset(cfg.dataset, root=cfg.data_root, split="train", n=cfg.n_train, seed=cfg.seed)
        self.test_ds = load_dataset(cfg.dataset, root=cfg.data_root, split="test")
        if not self.train_ds.is_image or self.train_ds.y is None:
            raise ConfigError(f"dataset {cfg.dataset!r} must be labelled images")
        c, h, _ = self.train_ds.sample_shape
        torch.manual_seed(cfg.seed)
        self.model_args = {"in_channels": c, "image_size": h, "num_classes": self.train_ds.num_classes}
        if cfg.arch == "madry":
            self.model_args["width"] = cfg.width
        if cfg.hidden is not None:
            self.model_args["hidden"] = cfg.hidden
        self.model = build_model(cfg.arch, **self.model_args).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.per_epoch = math.ceil(len(self.train_ds) / cfg.batch_size)
        self.total = max(1, round(cfg.epochs * self.per_epoch))
        self.step = 0
        self.seconds_before = 0.0  # training time of the earlier processes of a resumed run

    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        epoch, i = divmod(step, self.per_epoch)
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.train_ds), generator=g)
        idx = perm[i * self.cfg.batch_size:(i + 1) * self.cfg.batch_size]
        return _images(self.train_ds, idx, self.device), self.train_ds.y[idx].to(self.device)

    def eps_at(self, step: int) -> float:
        warm = self.cfg.eps_warmup * self.per_epoch
        return self.cfg.eps if warm <= 0 else self.cfg.eps * min(1.0, step / warm)

    def lr_at(self, step: int) -> float:
        if self.cfg.lr_schedule == "constant":
            return self.cfg.lr
        return 0.5 * self.cfg.lr * (1 + math.cos(math.pi * step / self.total))

    def loss(self, x: Tensor, y: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """The training loss of this step's defence, and the logits it was computed on."""
        cfg, eps = self.cfg, self.eps_at(step)
        if cfg.defence == "fgsm":
            # the clean forward serves both the adversarial direction and the clean loss term
            x = x.requires_grad_(True)
            logits = self.model(x)
            clean = F.cross_entropy(logits, y)
            grad, = torch.autograd.grad(clean, x, retain_graph=True)
            x_adv = (x.detach() + eps * grad.sign()).clamp_(0.0, 1.0)
            adv_logits = self.model(x_adv)
            loss = cfg.fgsm_mix * clean + (1 - cfg.fgsm_mix) * F.cross_entropy(adv_logits, y)
            return loss, adv_logits
        if cfg.defence == "pgd" and eps > 0:
            alpha = cfg.pgd_alpha if cfg.pgd_alpha is not None else 2.5 * eps / cfg.pgd_steps
            attack = PGD(eps=eps, alpha=min(alpha, 2.5 * eps), steps=cfg.pgd_steps, keep_adversarial=False,
                         seed=cfg.seed * 1_000_003 + step)
            x = attack(self.model, x, y)
        logits = self.model(x)
        return F.cross_entropy(logits, y), logits

    def save(self, test_accuracy: float | None = None) -> Path | None:
        if self.out is None:
            return None
        meta = {"kind": "classifier", "arch": self.cfg.arch, "model_args": self.model_args,
                "config": dataclasses.asdict(self.cfg), "epochs_done": self.step / self.per_epoch,
                "test_accuracy": test_accuracy, "torch": torch.__version__, "seconds": self.seconds()}
        return save_checkpoint(self.out / "checkpoints", self.step, modules={"model": self.model},
                               optimizers={"optimizer": self.opt}, meta=meta, keep=2)

    def resume(self) -> None:
        record, tensors = read_checkpoint(find_checkpoint(self.out))
        restore(record, tensors, modules={"model": self.model}, optimizers={"optimizer": self.opt})
        self.step = int(record["step"])
        self.seconds_before = float(record.get("seconds", 0.0))

    def seconds(self) -> float:
        """Training wall time so far, over every process of the run."""
        return round(self.seconds_before + time.monotonic() - self.start, 1)

    def run(self, progress: bool, log: MetricsLog | None) -> TrainResult:
        cfg = self.cfg
        self.start = start = last_save = time.monotonic()
        rows, finished = [], True
        self.model.train()
        columns = (TextColumn(f"[bold]{cfg.defence} training"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeRemainingColumn())
        with stop_on_signal() as stop, Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("train", total=self.total, completed=self.step, info="")
            while self.step < self.total:
                out_of_time = cfg.max_minutes is not None and time.monotonic() - start > 60 * cfg.max_minutes
                if out_of_time or stop.is_set():  # Ctrl-C / SIGTERM: stop after this step and save
                    finished = False
                    break
                x, y = self.batch(self.step)
                for group in self.opt.param_groups:
                    group["lr"] = self.lr_at(self.step)
                loss, logits = self.loss(x, y, self.step)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.step += 1
                if self.step % 50 == 0 or self.step == self.total:
                    acc = (logits.argmax(1) == y).float().mean().item()
                    rows.append({"step": self.step, "loss": round(loss.item(), 5), "train_acc": acc,
                                 "eps": self.eps_at(self.step), "seconds": self.seconds()})
                    bar.update(task, info=f"loss {loss.item():.3f}  acc {acc:.2f}")
                    if log is not None:
                        log.append(rows)
                    rows.clear()
                if time.monotonic() - last_save > 60 * cfg.checkpoint_minutes:
                    self.save()
                    last_save = time.monotonic()
                bar.advance(task)
        n = min(cfg.eval_n, len(self.test_ds))
        x_test = _images(self.test_ds, slice(0, n), self.device)
        test_acc = accuracy(self.model, x_test, self.test_ds.y[:n].to(self.device))
        return TrainResult(self.model.eval(), self.step, test_acc, self.save(test_acc), finished)


def train_classifier(cfg: RobustTrainConfig, *, out: str | Path | None = None, resume: bool = False,
                     progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue) a classifier; checkpoints go to ``out`` when given."""
    out = None if out is None else Path(out)
    if resume and out is None:
        raise ConfigError("resume needs the run folder (out=...)")
    trainer, log = _Trainer(cfg, out), None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            trainer.resume()
        else:
            atomic_write_text(out / "config.json", json.dumps(dataclasses.asdict(cfg), indent=1))
        # on resume, rows logged after the checkpoint (a killed process) are dropped: they come again
        log = MetricsLog(out / "metrics.jsonl", trainer.step if resume else None)
    return trainer.run(progress, log)
