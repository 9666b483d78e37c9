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
``config.yaml``, ``meta.json``, ``metrics.jsonl`` and ``checkpoints/ckpt-*.json/.safetensors`` whose JSON
records the architecture, so :func:`gankit.attacks.adapters.load_classifier` rebuilds the model.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed
from gankit.attacks.models import MODELS, build_model
from gankit.attacks.pgd import PGD
from gankit.config import RECIPES_DIR as GAN_RECIPES, apply_override, from_dict, load_recipe, raise_problems, read_run_config
from gankit.distributed import DistInfo
from gankit.errors import ConfigError
from gankit.loop import BatchSampler, Game, LoopSettings, Phase, Player, Trainer, constant, cosine
from gankit.runs import RunFolder, new_run_dir

__all__ = ["DEFENCES", "RECIPES_DIR", "RobustGame", "RobustTrainConfig", "TrainResult", "accuracy",
           "load_robust_config", "read_robust_config", "train_classifier"]

DEFENCES = ("none", "fgsm", "pgd")
RECIPES_DIR = GAN_RECIPES / "robust"


@dataclass
class RobustTrainConfig:
    """Settings of one classifier training (a recipe in gankit/configs/robust/ maps onto it one-to-one)."""

    name: str = "adv"
    description: str = ""
    dataset: str = "mnist"            # mnist or fashion-mnist (any gankit image dataset with labels)
    data_root: Optional[str] = None   # folder with mnist/ ... (default: GANKIT_DATA)
    arch: str = "madry"               # a key of gankit.attacks.models.MODELS
    width: float = 1.0                # madry only: channel multiplier (1: 32/64 as published)
    hidden: Optional[int] = None      # units of the hidden fc layer (None: the architecture's default)
    defence: Literal["none", "fgsm", "pgd"] = "none"
    eps: float = 0.3                  # Linf radius of the training attack
    fgsm_mix: float = 0.5             # Goodfellow's alpha: weight of the clean loss
    pgd_steps: int = 40               # Madry et al.: 40 steps of 0.01 at eps 0.3
    pgd_alpha: Optional[float] = 0.01  # None: 2.5 * eps / pgd_steps
    eps_warmup: float = 0.0           # epochs over which eps ramps up from 0
    epochs: float = 1.0               # may be fractional
    batch_size: int = 50              # Madry et al.: 50
    lr: float = 1e-3                  # Adam; Madry et al. used 1e-4 for 100k steps
    lr_schedule: Literal["constant", "cosine"] = "cosine"   # cosine: to 0 at the last step
    n_train: Optional[int] = None     # random training subset (None: all)
    max_minutes: Optional[float] = None  # stop (and checkpoint) after this much wall time
    checkpoint_minutes: float = 10.0  # also checkpoint this often
    eval_n: int = 10000               # test images for the final clean accuracy
    seed: int = 0
    device: str = "cpu"
    compile: bool = False             # capture each step (gankit.capture: torch.compile, CUDA graphs on a GPU)
    out_dir: str = "runs"

    def check(self) -> None:
        errors = []
        if self.defence not in DEFENCES:
            errors.append(f"defence: expected one of {', '.join(DEFENCES)}, got {self.defence!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            errors.append(f"lr_schedule: expected constant or cosine, got {self.lr_schedule!r}")
        if self.arch not in MODELS:
            errors.append(f"arch: expected one of {', '.join(MODELS)}, got {self.arch!r}")
        for name in ("eps", "eps_warmup", "width", "checkpoint_minutes"):
            if getattr(self, name) < 0:
                errors.append(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("epochs", "lr", "batch_size", "pgd_steps", "eval_n", "width"):
            if not getattr(self, name) > 0:
                errors.append(f"{name}: must be > 0, got {getattr(self, name)}")
        for name in ("hidden", "n_train", "pgd_alpha", "max_minutes"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                errors.append(f"{name}: must be > 0 (or unset), got {getattr(self, name)}")
        if not 0.0 <= self.fgsm_mix <= 1.0:
            errors.append(f"fgsm_mix: must be in [0, 1], got {self.fgsm_mix}")
        raise_problems(errors, "robust-training configuration")


def load_robust_config(recipe: str | None = None, overrides: Sequence[str] = ()) -> RobustTrainConfig:
    """A robust-training recipe (built-in name or YAML path; None: the defaults) with ``key=value`` overrides."""
    return load_recipe(RobustTrainConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="robust-training recipe")


def read_robust_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> RobustTrainConfig:
    """The config of a robust-train run folder (config.yaml; config.json in older runs), with overrides."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file() and (run_dir / "config.json").is_file():
        values = json.loads((run_dir / "config.json").read_text())
        for assignment in overrides:
            apply_override(values, assignment)
        config = from_dict(RobustTrainConfig, values)
        config.check()
        return config
    return read_run_config(run_dir, RobustTrainConfig, overrides)


@dataclass
class TrainResult:
    model: nn.Module
    step: int
    test_accuracy: float
    checkpoint: Path | None
    finished: bool  # False when max_minutes or Ctrl-C stopped it early


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


class RobustGame(Game):
    """Training a classifier, one player, on clean or adversarial inputs as ``defence`` says."""

    def __init__(self, cfg: RobustTrainConfig, info: DistInfo):
        from gankit.data import load_dataset
        self.cfg, self.device = cfg, info.device
        self.train_ds = load_dataset(cfg.dataset, root=cfg.data_root, split="train", n=cfg.n_train, seed=cfg.seed)
        self.test_ds = load_dataset(cfg.dataset, root=cfg.data_root, split="test")
        if not self.train_ds.is_image or self.train_ds.y is None:
            raise ConfigError(f"dataset: {cfg.dataset!r} must be labelled images")
        c, h, _ = self.train_ds.sample_shape
        torch.manual_seed(cfg.seed)
        self.model_args = {"in_channels": c, "image_size": h, "num_classes": self.train_ds.num_classes}
        if cfg.arch == "madry":
            self.model_args["width"] = cfg.width
        if cfg.hidden is not None:
            self.model_args["hidden"] = cfg.hidden
        self.model = build_model(cfg.arch, **self.model_args).to(self.device)
        self.phases = [Phase("model", (Player("model", self.model, torch.optim.Adam(self.model.parameters(),
                                                                                    lr=cfg.lr), cfg.lr, log=False),))]
        self.sampler = BatchSampler(len(self.train_ds), cfg.batch_size, seed=cfg.seed, last="partial")
        self.per_epoch = self.sampler.per_epoch
        self.total = max(1, round(cfg.epochs * self.per_epoch))
        self.lr_schedule = cosine(self.total) if cfg.lr_schedule == "cosine" else constant
        self.test_accuracy: float | None = None

    def modules(self) -> dict:
        return {"model": self.model}

    def checkpoint_meta(self, step: int) -> dict:
        """What gankit.attacks.adapters needs to rebuild the classifier, and how far it trained."""
        return {"kind": "classifier", "arch": self.cfg.arch, "model_args": self.model_args,
                "config": dataclasses.asdict(self.cfg), "epochs_done": step / self.per_epoch,
                "test_accuracy": self.test_accuracy, "torch": torch.__version__}

    def record(self, rows: list[dict], trainer: Trainer, partial: bool) -> None:
        rows[-1]["seconds"] = round(trainer.wall_seconds, 1)  # training time so far, over every process
        super().record(rows, trainer, partial)

    def describe(self, row: dict) -> str:
        return f"loss {row['loss']:.3f}  acc {row['train_acc']:.2f}"

    def eps_at(self, step: int) -> float:
        warm = self.cfg.eps_warmup * self.per_epoch
        return self.cfg.eps if warm <= 0 else self.cfg.eps * min(1.0, step / warm)

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        idx = self.sampler(step)
        x, y = _images(self.train_ds, idx, self.device), self.train_ds.y[idx].to(self.device)
        loss, logits = self.defence_loss(x, y, step)
        acc = (logits.detach().argmax(1) == y).float().mean()
        return loss, {"loss": loss.detach(), "train_acc": acc, "eps": torch.tensor(self.eps_at(step + 1))}

    def defence_loss(self, x: Tensor, y: Tensor, step: int) -> tuple[Tensor, Tensor]:
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

    def test(self) -> float:
        """Clean accuracy on the first ``eval_n`` test images."""
        n = min(self.cfg.eval_n, len(self.test_ds))
        x_test = _images(self.test_ds, slice(0, n), self.device)
        self.test_accuracy = accuracy(self.model, x_test, self.test_ds.y[:n].to(self.device))
        return self.test_accuracy


def train_classifier(cfg: RobustTrainConfig, *, out: str | Path | None = None, resume: bool = False,
                     progress: bool = True) -> TrainResult:
    """Train (or, with ``resume``, continue) a classifier into the run folder ``out``
    (default: runs/NAME-DEFENCE-DATASET-TIME)."""
    cfg.check()
    info = distributed.setup(cfg.device)
    if resume and out is None:
        raise ConfigError("resume needs the run folder (out=...)")
    path = out or new_run_dir(cfg.out_dir, f"{cfg.name}-{cfg.defence}-{cfg.dataset}")
    RunFolder.check(path, resume)
    game = RobustGame(cfg, info)   # data and model first: a bad input leaves no run folder behind
    with RunFolder(path, resume=resume) as run:
        run.write_config(dataclasses.asdict(cfg))
        if not resume:
            run.write_meta(cfg.seed, info.device)
        settings = LoopSettings(steps=game.total, log_every=50, ckpt_minutes=cfg.checkpoint_minutes,
                                keep_ckpts=2, max_minutes=cfg.max_minutes, label=f"{cfg.defence} training",
                                compile=cfg.compile,
                                resume_command="gankit robust-train --resume {run}")
        trainer = Trainer(game, run, settings, info, resume)
        result = trainer.run(progress)
        game.test()
        path = trainer.save()  # the final checkpoint records the test accuracy
    return TrainResult(game.model.eval(), result.step, game.test_accuracy, path, not result.interrupted)
