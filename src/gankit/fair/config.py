"""Settings of a fairness fit: one dataclass, one recipe YAML per setting (gankit/configs/fair/)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

from gankit.config import RECIPES_DIR as GAN_RECIPES, load_recipe, raise_problems, read_run_config

RECIPES_DIR = GAN_RECIPES / "fair"
METHODS = ("debias", "representation")
CRITERIA = ("parity", "odds")


@dataclass
class FairConfig:
    """One fit (a recipe in gankit/configs/fair/ maps onto it one-to-one).

    ``method``: "debias" is Zhang, Lemoine & Mitchell 2018 (an adversary reads the prediction);
    "representation" is Edwards & Storkey 2016 / Madras et al. 2018 (an encoder, a task head and
    an adversary on the representation). ``criterion``: "parity" (demographic parity: the
    adversary sees the prediction or representation) or "odds" (equalized odds: it also sees
    the true outcome)."""

    name: str = "fair"
    description: str = ""
    method: Literal["debias", "representation"] = "debias"
    criterion: Literal["parity", "odds"] = "parity"
    adversary_weight: float = 1.0     # alpha (Zhang) / gamma (Edwards & Storkey) at the schedule's end
    weight_schedule: Literal["constant", "sqrt", "linear"] = "sqrt"   # sqrt: alpha sqrt(t / T), Zhang's growth
    projection: bool = True           # debias: remove the adversary's direction from the predictor's gradient
    hidden: int = 0                   # predictor / encoder units per hidden layer; 0: linear (Zhang's setup)
    layers: int = 1                   # hidden layers (when hidden > 0)
    rep_dim: int = 8                  # representation: width of the representation
    reconstruction_weight: float = 0.0   # representation: a decoder's loss, keeps z useful for other tasks
    adversary_hidden: int = 0         # 0: a logistic adversary (Zhang's); else one hidden layer of this width
    adversary_steps: int = 1          # adversary updates per predictor update
    balance_groups: bool = True       # the adversary's loss weighs every group (and outcome, for odds) equally
    steps: int = 2000
    batch_size: int = 128
    lr: float = 0.01                  # Adam, predictor / encoder and head
    lr_adversary: float = 0.01
    lr_schedule: Literal["constant", "cosine"] = "cosine"   # both players; Zhang et al. decay theirs
    sensitive_as_feature: bool = False   # let the predictor read the sensitive attribute itself
    holdout: float = 0.3              # share of rows held out for the report (never used to fit or choose)
    validation: float = 0.2           # share of the other rows that chooses the weight and draws the curve
    curve: str = "0,0.1,0.3,1,3,10"   # adversary weights of the trade-off curve; "" draws none
    choose_weight: bool = False       # pick adversary_weight from the curve on the validation rows
    gap_target: float = 0.02          # ... the most accurate weight whose validation gap is at most this
    min_group_rows: int = 20          # a group with fewer rows has no rates worth estimating ...
    min_cell_rows: int = 5            # ... nor one with fewer rows of either outcome
    seed: int = 0                     # the split, the initialization and the batch order

    @property
    def curve_weights(self) -> list[float]:
        return [float(w) for w in self.curve.replace(" ", "").split(",") if w]

    def check(self) -> None:
        errors = []
        for name in ("steps", "batch_size", "layers", "rep_dim", "adversary_steps", "min_group_rows", "min_cell_rows"):
            if getattr(self, name) < 1:
                errors.append(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("hidden", "adversary_hidden", "adversary_weight", "reconstruction_weight", "gap_target"):
            if getattr(self, name) < 0:
                errors.append(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("lr", "lr_adversary"):
            if not getattr(self, name) > 0:
                errors.append(f"{name}: must be > 0, got {getattr(self, name)}")
        for name in ("holdout", "validation"):
            if not 0 < getattr(self, name) < 1:
                errors.append(f"{name}: must be in (0, 1), got {getattr(self, name)}")
        try:
            weights = self.curve_weights
            if any(w < 0 or w != w for w in weights):
                errors.append(f"curve: weights must be >= 0, got {self.curve!r}")
        except ValueError:
            errors.append(f"curve: expected comma-separated adversary weights such as '0,0.3,1,3', got {self.curve!r}")
            weights = [0.0]
        if self.choose_weight and not weights:
            errors.append("choose_weight: needs the weights to choose from in 'curve'")
        if self.method == "debias" and self.reconstruction_weight > 0:
            errors.append("reconstruction_weight: only the representation method has a decoder")
        raise_problems(errors, "fairness configuration")

    def to_dict(self) -> dict:
        return asdict(self)


def load_fair_config(recipe: str | None = "adversarial_debiasing", overrides: Sequence[str] = ()) -> FairConfig:
    """A fairness recipe (built-in name or YAML path; None: the defaults) with ``key=value`` overrides."""
    return load_recipe(FairConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="fairness recipe")


def read_fair_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> FairConfig:
    """The config of a fairness fit's run folder (RUN/config.yaml), with overrides."""
    return read_run_config(run_dir, FairConfig, overrides)
