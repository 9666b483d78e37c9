"""SemisupConfig: the settings of one semi-supervised run; a recipe YAML maps onto it one-to-one.

Recipes live in ``gankit/configs/semisup/`` (not beside the GAN recipes, whose loader
expects the data/model/train sections of gankit.config.Config).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

from gankit.config import list_recipes, load_recipe, raise_problems

RECIPES_DIR = Path(__file__).resolve().parent.parent / "configs" / "semisup"
DEFAULT_RECIPE = {"mnist": "ssgan_mnist100", "fashion-mnist": "ssgan_fashion"}


@dataclass
class SemisupConfig:
    name: str = "ssgan"
    description: str = ""
    method: Literal["ssgan", "supervised"] = "ssgan"   # supervised: the same D, CE on the labels only
    dataset: Literal["mnist", "fashion-mnist"] = "mnist"
    data_root: Optional[str] = None       # default: $GANKIT_DATA, then the cache
    labels: int = 100                     # labeled examples in all, the same number per class
    unlabeled_limit: Optional[int] = None  # use only the first N training images as the unlabeled pool
    image_size: Optional[int] = None      # resize images (e.g. 14 for quick tests); None: 28x28 as published
    val_size: int = 0                     # training images outside the labeled subset whose labels only
                                          # measure a validation error each epoch, to choose settings by
                                          # (they stay unlabeled for training; the test set chooses nothing)
    d_hidden: str = "1000-500-250-250-250"  # D's hidden widths (paper: 784-1000-500-250-250-250-10)
    g_hidden: str = "500-500"             # G's hidden widths (paper: 100-500-500-784)
    z_dim: int = 100
    input_noise: float = 0.3              # Gaussian noise std on D's input
    hidden_noise: float = 0.5             # ... and after each hidden layer of D
    epochs: int = 300                     # one epoch: unlabeled pool / batch_size steps
    batch_size: int = 100                 # for the labeled, the unlabeled and the generated batch
    lr: float = 0.003                     # Adam, both players
    beta1: float = 0.5
    beta2: float = 0.999
    g_lr: Optional[float] = None          # G's Adam lr (None: lr)
    g_beta1: Optional[float] = None       # G's Adam beta1 (None: beta1)
    adam_eps: float = 1e-4                # the paper's Adam: sqrt(v + 1e-8), i.e. about 1e-4 here; see train.py
    lr_decay_start: float = 0.6667        # fraction of the run after which lr falls linearly to 0
    unlabeled_weight: float = 1.0         # weight of D's unsupervised loss
    entropy_weight: float = 0.0           # weight of the entropy of D's class prediction on unlabeled data
    consistency_weight: float = 0.0       # Pi-model: D classifies each unlabeled image twice (independent
                                          # noise); weight of the squared distance between the two predictions
    consistency_target: Literal["pi", "ema"] = "pi"  # pi: the second prediction is D's own, gradients
                                          # through both; ema: it is the EMA classifier's (with noise, no
                                          # gradient), the Mean Teacher (Tarvainen & Valpola 2017)
    balance_weight: float = 0.0           # weight of KL(D's mean class prediction on an unlabeled batch ||
                                          # uniform): keeps a class from vanishing into its neighbours
    balance_ema: float = 0.0              # 0: that KL is of each batch's mean prediction; in (0, 1): of the mean
                                          # prediction averaged over past batches with this decay (0.99: about
                                          # 100 batches), so a batch's chance imbalance costs nothing
    translate: int = 0                    # move every image D sees by up to this many pixels (0: the paper's
                                          # permutation-invariant setting, which uses no image structure)
    ema: float = 0.999                    # Polyak (EMA) decay of D's weights, used at test time; 0: off
    init_batch: int = 500                 # images for the data-dependent weight-norm init
    seed: int = 0                         # weights, labeled subset, batches, noise
    parallel_seeds: int = 1               # train seeds seed .. seed+N-1 side by side in one process: one
                                          # set of kernel launches for all (these nets are launch-bound on a GPU)
    device: str = "auto"                  # auto: cuda when available, else cpu
    compile: bool = False                 # capture each step (gankit.capture: torch.compile, CUDA graphs on a
                                          # GPU); the first steps then take a minute or two to compile
    eval_every: int = 1                   # epochs between test-error measurements
    save_every_minutes: float = 5.0       # checkpoint at the first epoch end this long after the last one
                                          # (0: every epoch); the last epoch and Ctrl-C always save
    out_dir: str = "runs"

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.parallel_seeds))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> None:
        from gankit.semisup.nets import parse_widths
        errors = []
        for key in ("labels", "z_dim", "epochs", "batch_size", "lr", "adam_eps", "init_batch", "eval_every",
                    "parallel_seeds"):
            if getattr(self, key) <= 0:
                errors.append(f"{key}: must be > 0, got {getattr(self, key)}")
        if self.image_size is not None and self.image_size < 4:
            errors.append(f"image_size: must be at least 4, got {self.image_size}")
        if self.unlabeled_limit is not None and self.unlabeled_limit < self.batch_size:
            errors.append(f"unlabeled_limit: must be at least batch_size ({self.batch_size}), "
                          f"got {self.unlabeled_limit}")
        for key in ("input_noise", "hidden_noise", "unlabeled_weight", "entropy_weight", "consistency_weight",
                    "balance_weight", "translate", "save_every_minutes", "val_size"):
            if getattr(self, key) < 0:
                errors.append(f"{key}: must be >= 0, got {getattr(self, key)}")
        for key in ("beta1", "ema", "lr_decay_start", "balance_ema"):
            if not 0 <= getattr(self, key) < 1:
                errors.append(f"{key}: must be in [0, 1), got {getattr(self, key)}")
        if self.consistency_target == "ema" and self.consistency_weight and not self.ema:
            errors.append("consistency_target: ema needs the EMA classifier, but ema is 0 (set ema > 0, "
                          "or consistency_target=pi)")
        if self.balance_ema and not self.balance_weight:
            errors.append("balance_ema: averages the balance term's class marginal, but balance_weight is 0 "
                          "(set balance_weight > 0, or leave balance_ema at 0)")
        if self.labels % 10:
            errors.append(f"labels: must be a multiple of the 10 classes (balanced subset), got {self.labels}")
        for key in ("d_hidden", "g_hidden"):
            try:
                parse_widths(getattr(self, key), key)
            except ValueError as exc:
                errors.append(str(exc))
        if self.device not in ("auto", "cpu", "mps") and not self.device.startswith("cuda"):
            errors.append(f"device: expected auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        raise_problems(errors, "semi-supervised configuration")


def list_semisup_recipes() -> dict[str, str]:
    """Recipe name -> one-line description."""
    return list_recipes(RECIPES_DIR)


def load_semisup_config(recipe: str | None = None, overrides: Sequence[str] = ()) -> SemisupConfig:
    """Load a recipe (a built-in name or a YAML path; None: defaults) and apply ``key=value`` overrides."""
    return load_recipe(SemisupConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="semi-supervised recipe")
