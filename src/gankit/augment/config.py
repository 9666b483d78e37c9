"""Settings of `gankit augment`: one dataclass, one recipe YAML per setting (gankit/configs/augment/)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Sequence

from gankit.config import RECIPES_DIR as GAN_RECIPES, find_recipe, load_recipe, raise_problems
from gankit.data.augment import parse_diffaug
from gankit.metrics.train_backbones import BackboneNet

RECIPES_DIR = GAN_RECIPES / "augment"
# every arm trains the same classifier for the same steps on batches of the same size; they differ in
# where a batch comes from: (classic augmentation of the real part, share of generated images, filtered)
ARMS = {"real": (False, 0.0, False),
        "classic": (True, 0.0, False),
        "real+gan": (False, None, False),            # None: the recipe's gan_ratio
        "classic+gan": (True, None, False),
        "gan-only": (False, 1.0, False),             # the classification accuracy score (CAS)
        "classic+gan-filtered": (True, None, True)}  # generated images the real arm's classifier agrees with
DEFAULT_ARMS = "real,classic,real+gan,classic+gan,gan-only"


@dataclass
class AugmentConfig:
    """A labelled subset, a class-conditional GAN trained on it, and one classifier per arm."""

    name: str = "augment"
    description: str = ""
    dataset: str = "fashion-mnist"   # mnist, fashion-mnist, or folder (one sub-folder per class)
    folder: Optional[str] = None     # dataset folder: its images; the test images are those outside the subset ...
    test_folder: Optional[str] = None   # ... unless a folder of the same classes is given here
    image_size: int = 28             # folder images are cropped square and resized to this ...
    channels: int = 3                # ... and read as colour (3) or grey (1)
    labels: int = 100                # labelled images, the same number per class
    seed: int = 0                    # the labelled subset, the GAN and every classifier
    data_root: Optional[str] = None
    # the GAN (a GAN recipe, with its steps, DiffAugment and other overrides from here)
    gan_recipe: str = "cgan_mnist"
    gan_steps: int = 3000
    diffaug: str = ""                # DiffAugment of the GAN's D; off: at 10 images per class it erased the class
    gan_set: str = ""                # more GAN overrides, ";"-separated: "train.lr_g=1e-4;model.z_dim=64"
    # the classifier of every arm
    arms: str = DEFAULT_ARMS
    gan_ratio: float = 0.5           # share of generated images in a mixed arm's batch
    filter_confidence: float = 0.9   # classic+gan-filtered: the real arm's probability of the asked class
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3                 # AdamW peak; linear warm-up, then cosine decay to 0
    weight_decay: float = 5e-4
    warmup_steps: int = 100
    model: BackboneNet = field(default_factory=BackboneNet)
    device: str = "auto"
    out_dir: str = "runs"

    @property
    def arm_names(self) -> list[str]:
        return [a.strip() for a in self.arms.split(",") if a.strip()]

    @property
    def gan_overrides(self) -> list[str]:
        return [s.strip() for s in self.gan_set.split(";") if s.strip()]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> None:
        errors = [f"{k}: must be > 0, got {getattr(self, k)}"
                  for k in ("labels", "gan_steps", "steps", "batch_size", "lr", "image_size")
                  if not getattr(self, k) > 0]
        errors += [f"{k}: must be >= 0, got {getattr(self, k)}" for k in ("weight_decay", "warmup_steps")
                   if getattr(self, k) < 0]
        if self.dataset not in ("mnist", "fashion-mnist", "folder"):
            errors.append(f"dataset: expected mnist, fashion-mnist or folder, got {self.dataset!r}")
        if self.dataset == "folder" and not self.folder:
            errors.append("folder: dataset 'folder' needs the path of a folder with one sub-folder per class")
        if self.channels not in (1, 3):
            errors.append(f"channels: 1 (grey) or 3 (colour), got {self.channels}")
        if self.image_size % 4:
            errors.append(f"image_size: the classifier needs a multiple of 4, got {self.image_size}")
        unknown = [a for a in self.arm_names if a not in ARMS]
        if unknown or not self.arm_names:
            errors.append(f"arms: {', '.join(map(repr, unknown)) or 'none given'}; choose from {', '.join(ARMS)}")
        if not 0 < self.gan_ratio < 1:
            errors.append(f"gan_ratio: the share of generated images in a mixed batch must be in (0, 1), "
                          f"got {self.gan_ratio}")
        if not 0 < self.filter_confidence < 1:
            errors.append(f"filter_confidence: must be in (0, 1), got {self.filter_confidence}")
        try:
            parse_diffaug(self.diffaug)
        except ValueError as exc:
            errors.append(f"diffaug: {exc}")
        try:
            find_recipe(self.gan_recipe, kind="GAN recipe")
        except Exception as exc:  # ConfigError naming the choices
            errors.append(f"gan_recipe: {exc}")
        raise_problems(errors, "augment configuration")


def load_augment_config(recipe: str | None = "augment_cpu", overrides: Sequence[str] = ()) -> AugmentConfig:
    """An augment recipe (built-in name or YAML path) with ``key=value`` overrides, checked."""
    return load_recipe(AugmentConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="augment recipe")
