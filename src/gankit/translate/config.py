"""TranslateConfig: one CycleGAN run; a recipe YAML (gankit/configs/translate/) maps onto it one-to-one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

from gankit.config import RECIPES_DIR as GAN_RECIPES, load_recipe, raise_problems

RECIPES_DIR = GAN_RECIPES / "translate"


@dataclass
class TranslateConfig:
    name: str = "cyclegan"
    description: str = ""
    domain_a: str = "mnist"            # mnist, digits, mnist-m, or a folder holding trainA/ trainB/ testA/ testB/
    domain_b: str = "mnist-m"          # (a folder's A side is domain A, its B side domain B: give it for both)
    data_root: Optional[str] = None    # where mnist/ lives (default: $GANKIT_DATA)
    image_size: int = 256              # both domains are brought to this frame (after a random crop of load_size)
    load_size: Optional[int] = None    # load at this size, then random-crop image_size (the paper: 286 -> 256)
    flip: bool = False                 # random horizontal flips (photos, not digits)
    channels: int = 3                  # both domains are converted to this many channels
    limit: Optional[int] = None        # training images per domain (None: all)
    ngf: int = 64                      # generator width
    ndf: int = 64                      # discriminator width
    n_blocks: int = 9                  # residual blocks: 9 at 256 px, 6 at 128 px and below
    n_layers: int = 3                  # PatchGAN depth: 3 gives 70x70 patches
    lambda_cycle: float = 10.0         # weight of the cycle-consistency L1 (both directions)
    lambda_identity: float = 0.5       # identity L1, as a share of lambda_cycle
    pool_size: int = 50                # history of generated images D is shown
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 1
    epochs: int = 200                  # an epoch: max(|A|, |B|) / batch_size steps
    lr_decay_start: float = 0.5        # constant for this share of the run, then linearly to 0
    eval_every: int = 1000             # steps between scores (translated accuracy, cycle L1, FID)
    eval_samples: int = 1000           # test images per domain for the scores
    sample_every: int = 1000           # steps between sample strips
    classifier_steps: int = 1500      # training steps (batch 128) of the target domains' evaluation classifiers
    max_minutes: Optional[float] = None  # stop (and checkpoint) after this much wall time: an unfinished run
    seed: int = 0
    device: str = "auto"
    compile: bool = False              # capture each step (gankit.capture: torch.compile, CUDA graphs on a GPU)
    out_dir: str = "runs"

    def check(self) -> None:
        errors = [f"{k}: must be > 0, got {getattr(self, k)}" for k in
                  ("image_size", "ngf", "ndf", "n_blocks", "n_layers", "lr", "batch_size", "epochs", "eval_every",
                   "eval_samples", "sample_every", "classifier_steps") if not getattr(self, k) > 0]
        errors += [f"{k}: must be >= 0, got {getattr(self, k)}" for k in
                   ("lambda_cycle", "lambda_identity", "pool_size") if getattr(self, k) < 0]
        if self.channels not in (1, 3):
            errors.append(f"channels: must be 1 or 3, got {self.channels}")
        if self.image_size % 4:
            errors.append(f"image_size: must be a multiple of 4 (two halvings and back), got {self.image_size}")
        if self.load_size is not None and self.load_size < self.image_size:
            errors.append(f"load_size: must be at least image_size ({self.image_size}), got {self.load_size}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            errors.append(f"max_minutes: must be > 0 (or unset), got {self.max_minutes}")
        if self.limit is not None and self.limit < self.batch_size:
            errors.append(f"limit: must be at least batch_size ({self.batch_size}), got {self.limit}")
        for key in ("beta1", "beta2", "lr_decay_start"):
            if not 0 <= getattr(self, key) < 1:
                errors.append(f"{key}: must be in [0, 1), got {getattr(self, key)}")
        if self.domain_a == self.domain_b and self.domain_a in ("mnist", "digits", "mnist-m"):
            errors.append(f"domain_b: translating {self.domain_a!r} into itself teaches nothing; name two domains")
        raise_problems(errors, "translation configuration")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_translate_config(recipe: str | None = "cyclegan_paper", overrides: Sequence[str] = ()) -> TranslateConfig:
    return load_recipe(TranslateConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="translation recipe")
