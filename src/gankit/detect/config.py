"""The settings of one detector training; a recipe in gankit/configs/detect/ maps onto them one-to-one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from gankit.config import RECIPES_DIR as GAN_RECIPES, load_recipe, raise_problems, read_run_config

__all__ = ["AugmentConfig", "DetectConfig", "DetectorNet", "RECIPES_DIR", "load_detect_config",
           "read_detect_config"]

RECIPES_DIR = GAN_RECIPES / "detect"


@dataclass
class AugmentConfig:
    """Wang et al. 2020's blur + JPEG augmentation, each applied to half of the training images."""

    blur_prob: float = 0.5
    blur_sigma_max: float = 1.5    # sigma ~ U[0, max] (the paper's 3 is for 256-pixel images)
    jpeg_prob: float = 0.5
    jpeg_quality_min: int = 30     # quality ~ U{min..max}, as in the paper
    jpeg_quality_max: int = 100

    def kwargs(self) -> dict:
        """The arguments of gankit.detect.perturb.blur_jpeg."""
        return dict(blur_prob=self.blur_prob, blur_sigma_max=self.blur_sigma_max, jpeg_prob=self.jpeg_prob,
                    jpeg_quality=(self.jpeg_quality_min, self.jpeg_quality_max))


@dataclass
class DetectorNet:
    """gankit.metrics.backbones.DomainClassifier arguments (two conv blocks, one logit)."""

    width: int = 32
    feature_dim: int = 128
    dropout: float = 0.3


@dataclass
class DetectConfig:
    name: str = "detect"
    description: str = ""
    real: str = "mnist"                 # the dataset whose train split gives the real images
    fake: list = field(default_factory=list)   # GAN run folders (or checkpoints) giving the generated ones
    data_root: Optional[str] = None     # folder with mnist/ ... (default: GANKIT_DATA)
    n_train: int = 10000                # real training images, and as many generated (shared among fake runs)
    noise_seed: int = 1                 # noise of the generated training images (0 is the evaluation samples')
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3                    # AdamW, linear warm-up then cosine decay to 0
    weight_decay: float = 5e-4
    warmup_steps: int = 100
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: DetectorNet = field(default_factory=DetectorNet)
    seed: int = 0                       # weights, batch order, augmentation, the real subset
    checkpoint_minutes: float = 5.0
    out_dir: str = "runs"

    def check(self) -> None:
        errors = []
        if not isinstance(self.fake, list) or not all(isinstance(f, str) and f for f in self.fake):
            errors.append(f"fake: expected a list of GAN run folders, got {self.fake!r}")
        elif not self.fake:
            errors.append("fake: name at least one GAN run folder whose samples the detector learns from")
        errors += [f"{k}: must be > 0, got {getattr(self, k)}" for k in ("n_train", "steps", "batch_size", "lr",
                                                                         "checkpoint_minutes")
                   if not getattr(self, k) > 0]
        errors += [f"{k}: must be >= 0, got {getattr(self, k)}" for k in ("weight_decay", "warmup_steps")
                   if getattr(self, k) < 0]
        if self.noise_seed == 0:
            errors.append("noise_seed: 0 draws the evaluation samples; train on another seed")
        if isinstance(self.fake, list) and self.fake and self.n_train < len(self.fake):
            errors.append(f"n_train: {self.n_train} is fewer than one image per fake run ({len(self.fake)})")
        a = self.augment
        errors += [f"augment.{k}: must be in [0, 1], got {getattr(a, k)}" for k in ("blur_prob", "jpeg_prob")
                   if not 0 <= getattr(a, k) <= 1]
        if a.blur_sigma_max < 0:
            errors.append(f"augment.blur_sigma_max: must be >= 0, got {a.blur_sigma_max}")
        if not 1 <= a.jpeg_quality_min <= a.jpeg_quality_max <= 100:
            errors.append(f"augment.jpeg_quality_min, jpeg_quality_max: expected 1 <= min <= max <= 100, "
                          f"got {a.jpeg_quality_min} and {a.jpeg_quality_max}")
        errors += [f"model.{k}: must be > 0, got {getattr(self.model, k)}" for k in ("width", "feature_dim")
                   if getattr(self.model, k) < 1]
        if not 0 <= self.model.dropout < 1:
            errors.append(f"model.dropout: must be in [0, 1), got {self.model.dropout}")
        raise_problems(errors, "detector configuration")


def load_detect_config(recipe: str | Path | None = None, overrides: Sequence[str] = ()) -> DetectConfig:
    """A detector recipe (built-in name or YAML path; None: the defaults) with ``key=value`` overrides."""
    return load_recipe(DetectConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="detector recipe")


def read_detect_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> DetectConfig:
    """The config of a detector run folder (its config.yaml), with overrides."""
    return read_run_config(run_dir, DetectConfig, overrides)
