"""Run configuration: dataclasses that a recipe YAML maps onto one-to-one.

A recipe has the top-level keys ``name``, ``description`` and the sections ``data``,
``model`` and ``train``. Unknown keys and bad values raise ConfigError naming the
key (e.g. ``train.lr_g``), at load time, before any work starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence, TypeVar

import yaml

from gankit.errors import ConfigError, GankitError

T = TypeVar("T")
RECIPES_DIR = Path(__file__).parent / "configs"


@dataclass
class DataConfig:
    name: str = "digits"                 # a key of gankit.data.DATASETS
    root: Optional[str] = None           # data root; default: --data-root, $GANKIT_DATA, cache
    image_size: Optional[int] = None     # resize images to this side length
    channels: Optional[int] = None       # 1 or 3; default: the dataset's own
    path: Optional[str] = None           # image folder, for name: folder
    n: Optional[int] = None              # number of points, for toy mixtures
    limit: Optional[int] = None          # use only the first `limit` training samples

    def check(self) -> list[str]:
        from gankit.data import DATASETS
        errors = []
        if self.name not in DATASETS:
            errors.append(f"data.name: unknown dataset {self.name!r}; choose one of {sorted(DATASETS)}")
        if self.channels not in (None, 1, 3):
            errors.append(f"data.channels: must be 1 or 3, got {self.channels}")
        errors += _positive(self, "data", ["image_size", "n", "limit"])
        return errors


@dataclass
class ModelConfig:
    arch: str = "dcgan"                  # a key of gankit.nets.GENERATORS
    z_dim: int = 100
    noise: Literal["normal", "uniform"] = "normal"   # uniform is U(-sqrt 3, sqrt 3): unit variance
    g_width: Optional[int] = None        # None: the architecture's published default
    d_width: Optional[int] = None
    conditional: Literal["none", "projection", "ac"] = "none"   # D head; G gets labels when not none
    spectral_norm: bool = False          # on the discriminator
    g_spectral_norm: bool = False
    d_dropout: Optional[float] = None    # mlp2014 hidden dropout; None: paper's 0.5
    d_norm: Optional[Literal["batch", "layer", "none"]] = None   # dcgan critic; None: batch (none with SN)

    def check(self) -> list[str]:
        from gankit.nets import DISCRIMINATORS, GENERATORS
        errors = []
        if self.arch not in GENERATORS or self.arch not in DISCRIMINATORS:
            errors.append(f"model.arch: unknown architecture {self.arch!r}; choose one of {sorted(GENERATORS)}")
        errors += _positive(self, "model", ["z_dim", "g_width", "d_width"])
        if self.d_dropout is not None and not 0 <= self.d_dropout < 1:
            errors.append(f"model.d_dropout: must be in [0, 1), got {self.d_dropout}")
        return errors


@dataclass
class TrainConfig:
    loss: str = "nonsat"                 # a key of gankit.losses.OBJECTIVES
    steps: int = 2000                    # generator updates
    batch_size: int = 64                 # global batch (split across DDP ranks)
    n_dis: int = 1                       # discriminator updates per generator update
    update: Literal["alternating", "simultaneous"] = "alternating"  # simultaneous: both players
                                         # step on gradients from one forward pass (the 2014 code)
    optimizer: Literal["adam", "sgd"] = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)       # adam
    momentum: float = 0.5                # sgd: initial momentum
    momentum_final: Optional[float] = None          # sgd: ramp linearly to this ...
    momentum_ramp_steps: int = 0                    # ... over this many steps
    lr_schedule: Literal["constant", "linear", "exponential"] = "constant"
    lr_decay: float = 1.0                # exponential: lr is divided by this every step
    lr_min: float = 0.0
    gp_weight: float = 0.0               # WGAN-GP gradient penalty (10 in the paper)
    r1_weight: float = 0.0               # R1 penalty gamma
    ac_weight: float = 1.0               # auxiliary classifier loss (conditional: ac)
    diffaug: str = ""                    # DiffAugment (Zhao et al. 2020) of all D sees: any of translation,cutout,color;
                                         # the paper's advice: for a few thousand images or fewer, "" (off)
                                         # for full datasets; on MNIST DCGANs it has not lowered FID here yet, and
                                         # its translation made cgan_mnist ignore its labels at 10 images a class
    ema: float = 0.0                     # generator EMA decay; 0 turns it off
    ema_start: int = 0                   # copy weights until this step, then average
    precision: Literal["auto", "fp32", "bf16"] = "auto"   # auto: bf16 autocast on CUDA
    device: str = "auto"                 # auto picks cuda, then mps, then cpu
    compile: bool = False                # capture each step (gankit.capture: torch.compile, CUDA graphs on a GPU);
                                         # the first steps compile for a minute; off until proven on a GPU
    seed: int = 0
    log_every: int = 10
    sample_every: int = 500
    ckpt_every: int = 1000
    keep_ckpts: int = 3
    n_samples: int = 64                  # images in the sample grid
    eval_every: int = 0                  # FID on the domain backbone every N steps, best kept in RUN/best
    eval_samples: int = 2000             # samples (and real test images) per training-time FID
    out_dir: str = "runs"

    def check(self) -> list[str]:
        from gankit.data.augment import parse_diffaug
        from gankit.losses import OBJECTIVES
        errors = []
        if self.loss not in OBJECTIVES:
            errors.append(f"train.loss: unknown objective {self.loss!r}; choose one of {sorted(OBJECTIVES)}")
        errors += _positive(self, "train", ["steps", "batch_size", "n_dis", "lr_g", "lr_d", "log_every",
                                            "sample_every", "ckpt_every", "keep_ckpts", "n_samples", "lr_decay"])
        if self.eval_samples < 100:
            errors.append(f"train.eval_samples: FID needs at least 100 samples, got {self.eval_samples}")
        for key in ("gp_weight", "r1_weight", "ac_weight", "lr_min", "momentum_ramp_steps", "ema_start",
                    "eval_every"):
            if getattr(self, key) < 0:
                errors.append(f"train.{key}: must be >= 0, got {getattr(self, key)}")
        for key in ("ema", "momentum"):
            if not 0 <= getattr(self, key) < 1:
                errors.append(f"train.{key}: must be in [0, 1), got {getattr(self, key)}")
        if not all(0 <= b < 1 for b in self.betas):
            errors.append(f"train.betas: each must be in [0, 1), got {list(self.betas)}")
        try:
            parse_diffaug(self.diffaug)
        except ValueError as exc:
            errors.append(f"train.diffaug: {exc}")
        if self.update == "simultaneous" and self.n_dis != 1:
            errors.append(f"train.n_dis: simultaneous updates take one D step per G step, got {self.n_dis}")
        if self.device not in ("auto", "cpu", "mps") and not self.device.startswith("cuda"):
            errors.append(f"train.device: expected auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        return errors


@dataclass
class Config:
    name: str = "run"                    # run folder prefix; defaults to the recipe's file name
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["train"]["betas"] = list(self.train.betas)
        return out

    def check(self) -> None:
        errors = self.data.check() + self.model.check() + self.train.check()
        if self.data.name == "folder" and self.data.path is None:
            errors.append("data.path: data.name 'folder' needs the path of an image folder")
        if not errors and self.data.image_size is not None:
            errors += self._size_problems()
        if errors:
            raise_problems(errors)

    def _size_problems(self) -> list[str]:
        """Build the nets without memory (meta device): an image size they cannot take is named now."""
        import torch
        from gankit.nets import build_discriminator, build_generator
        m, size = self.model, self.data.image_size
        shape = (self.data.channels or 1, size, size)
        try:
            with torch.device("meta"):
                build_generator(m.arch, z_dim=m.z_dim, sample_shape=shape, num_classes=0, width=m.g_width)
                build_discriminator(m.arch, sample_shape=shape, num_classes=0, cond="none", width=m.d_width,
                                    dropout=m.d_dropout, norm=m.d_norm)
        except ValueError as exc:
            return [f"data.image_size: {size} does not fit model.arch {m.arch!r}: {exc}"]
        except (NotImplementedError, RuntimeError):  # an init the meta device cannot run: checked when built
            pass
        return []


def raise_problems(errors: list[str], what: str = "configuration") -> None:
    """One ConfigError on one line, naming every bad key, when ``errors`` is not empty."""
    if errors:
        raise ConfigError(f"invalid {what}: " + "; ".join(errors))


def _positive(obj, section: str, keys: list[str]) -> list[str]:
    return [f"{section}.{k}: must be > 0, got {getattr(obj, k)}"
            for k in keys if getattr(obj, k) is not None and getattr(obj, k) <= 0]


# --- building dataclasses from plain dicts, with type checks -----------------------

def _coerce(value: Any, tp: Any, key: str, allow_inf: bool = False) -> Any:
    """Check ``value`` against the annotation ``tp``; allow int -> float and int -> str only.

    Numbers must be finite (NaN never passes a range check); ``allow_inf``: +inf is allowed
    (a field whose metadata says ``allow_inf``, e.g. an epsilon of inf for no privacy)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _coerce(value, inner, key, allow_inf)
    if tp is float:
        number = _number(value, key)
        if math.isnan(number) or (math.isinf(number) and not (allow_inf and number > 0)):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
    if tp is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # e.g. a one-layer width list "500" written as 500
    if tp is str and value is None:
        return ""          # `--set train.diffaug=` or `diffaug:` in YAML: the empty string (off)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: expected one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, args)))
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{key}: expected float, got {value!r} ({type(value).__name__})")


def from_dict(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``values``; unknown keys and bad types raise ConfigError."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'recipe'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"unknown key {full!r}; valid keys here: {', '.join(fields)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = from_dict(tp, value or {}, f"{full}.")
        else:
            kwargs[key] = _coerce(value, tp, full, fields[key].metadata.get("allow_inf", False))
    return cls(**kwargs)


# --- recipes and overrides: the one config mechanism of every command -----------------

def list_recipes(recipes_dir: Path = RECIPES_DIR) -> dict[str, str]:
    """Recipe name -> one-line description, for the built-in recipes in ``recipes_dir``."""
    out = {}
    for path in sorted(recipes_dir.glob("*.yaml")):
        out[path.stem] = (yaml.safe_load(path.read_text()) or {}).get("description", "")
    return out


def find_recipe(name_or_path: str, recipes_dir: Path = RECIPES_DIR, kind: str = "recipe") -> Path:
    """A YAML path as given, or the built-in recipe of that name; ConfigError naming the choices."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"recipe file {path} does not exist")
        return path
    builtin = recipes_dir / f"{name_or_path}.yaml"
    if not builtin.is_file():
        raise ConfigError(f"unknown {kind} {name_or_path!r}; built-in: {', '.join(list_recipes(recipes_dir))}")
    return builtin


def apply_override(values: dict[str, Any], assignment: str) -> None:
    """Apply ``key=value`` or ``section.key=value`` (value parsed as YAML) to a raw recipe dict."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {assignment!r}: expected key=value (section.key=value for a sectioned "
                          f"recipe), e.g. train.lr_g=1e-4")
    *sections, leaf = key.strip().split(".")
    node = values
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: {section!r} is not a section")
    try:
        node[leaf] = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({exc.problem})") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one line: what is wrong and where."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + (getattr(exc, "problem", None) or str(exc).splitlines()[0])


def override(key: str, value: Any) -> str:
    """``key=value`` for apply_override, quoting strings (a path may hold ':' or '#')."""
    return f"{key}={json.dumps(value) if isinstance(value, str) else value}"


def read_recipe_file(path: Path, what: str = "keys") -> dict[str, Any]:
    """A recipe's YAML as a dict (``name`` defaults to the file name); errors name the file."""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of {what}, got {type(values).__name__}")
    values.setdefault("name", path.stem)
    return values


def load_recipe(cls: type[T], recipe: str | Path | None = None, overrides: Sequence[str] = (), *,
                recipes_dir: Path = RECIPES_DIR, kind: str = "recipe") -> T:
    """Build config dataclass ``cls`` from a recipe (built-in name or YAML path; None: the defaults)
    and ``key=value`` overrides, then check it; unknown keys and bad values raise ConfigError."""
    values: dict[str, Any] = {}
    if recipe is not None:
        values = read_recipe_file(find_recipe(str(recipe), recipes_dir, kind))
    for assignment in overrides:
        apply_override(values, assignment)
    config = from_dict(cls, values)
    config.check()
    return config


def load_config(recipe: str | None = None, overrides: Sequence[str] = ()) -> Config:
    """A GAN recipe (built-in name or YAML path; None: defaults) with ``section.key=value`` overrides."""
    return load_recipe(Config, recipe, overrides)


def read_run_config(run_dir: str | Path, cls: type[T] = Config, overrides: Sequence[str] = ()) -> T:
    """The resolved config a run folder holds (RUN/config.yaml), with overrides merged, checked."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run folder (no config.yaml)")
    values = read_recipe_file(path)
    for assignment in overrides:
        apply_override(values, assignment)
    config = from_dict(cls, values)
    config.check()
    return config
