"""Loading a trained generator from a checkpoint and drawing samples or interpolations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import checkpoint
from gankit.config import Config, from_dict
from gankit.errors import ConfigError, GankitError
from gankit.game import build_players, sample_noise


@dataclass
class LoadedGenerator:
    G: nn.Module
    config: Config
    step: int
    num_classes: int            # 0 when the generator is unconditional
    class_names: list[str] | None
    checkpoint: Path

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.G.parameters()).device
        return sample_noise(n, self.config.model.z_dim, self.config.model.noise, device, generator)

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, y if self.num_classes else None)


def load_generator(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Load G (its EMA copy when saved and ``ema``) from a run folder or checkpoint file."""
    json_path = checkpoint.find_checkpoint(path)
    record, tensors = checkpoint.read_checkpoint(json_path)
    if not any(k.startswith("G/") for k in tensors):  # e.g. a robust-train run's classifier
        kind = record.get("kind")
        raise GankitError(f"{json_path} holds no generator to sample (no G/ tensors)"
                          + (f": it is a {kind} checkpoint" if isinstance(kind, str) else ""))
    cfg = _config(record, json_path)
    shape = checkpoint.record_field(record, "sample_shape", json_path, _is_shape,
                                    "a list of positive whole numbers, e.g. [1, 28, 28]")
    num_classes = checkpoint.record_field(record, "num_classes", json_path, checkpoint.is_count, "a whole number >= 0")
    class_names = checkpoint.record_field(record, "class_names", json_path, _is_names, "null or a list of names",
                                          default=None)
    try:
        G, _ = build_players(cfg, tuple(shape), num_classes)
    except Exception as exc:  # ConfigError, or a net that cannot be built from these numbers
        raise GankitError(f"{json_path}: cannot build the generator its config describes: "
                          f"{checkpoint.one_line(exc)}") from None
    name = "G_ema" if ema and any(k.startswith("G_ema/") for k in tensors) else "G"
    checkpoint.load_module(G, tensors, name, json_path, "generator",
                           hint="was model.z_dim or a width edited in the JSON config, or the .safetensors "
                                "copied from another run?")
    G.to(device).eval()
    classes = num_classes if cfg.model.conditional != "none" else 0
    return LoadedGenerator(G, cfg, record["step"], classes, class_names, json_path)


def _config(record: dict, json_path: Path) -> Config:
    """The run's config from a checkpoint's JSON; errors name the file and the key."""
    values = checkpoint.record_field(record, "config", json_path, lambda v: isinstance(v, dict),
                                     "the run's config, an object with data, model and train")
    try:
        cfg = from_dict(Config, values)
    except ConfigError as exc:
        raise GankitError(f"{json_path}: bad config in the JSON: {exc}") from None
    errors = cfg.model.check()  # what building the generator needs; data and train may differ today
    if errors:
        raise GankitError(f"{json_path}: bad config in the JSON: {errors[0]}")
    return cfg


def _is_shape(value) -> bool:
    return isinstance(value, list) and bool(value) and all(type(n) is int and n > 0 for n in value)


def _is_names(value) -> bool:
    return value is None or isinstance(value, list) and all(isinstance(n, str) for n in value)


def class_labels(gen: LoadedGenerator, n: int, class_index: int | None) -> torch.Tensor | None:
    """Labels for n samples: one class when asked, else cycling through the classes."""
    if not gen.num_classes:
        if class_index is not None:
            raise GankitError("this generator is unconditional: it takes no class")
        return None
    if class_index is not None and not 0 <= class_index < gen.num_classes:
        raise GankitError(f"class {class_index} is out of range: this generator knows classes 0..{gen.num_classes - 1}")
    device = next(gen.G.parameters()).device
    if class_index is not None:
        return torch.full((n,), class_index, device=device)
    return torch.arange(n, device=device) % gen.num_classes


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (Gaussian latents live near a sphere)."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_latents(gen: LoadedGenerator, rows: int, frames: int,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """(rows * frames, z_dim): each row walks from one random latent to another."""
    start, end = gen.noise(rows, generator), gen.noise(rows, generator)
    t = torch.linspace(0, 1, frames, device=start.device).view(1, frames, 1)
    if gen.config.model.noise == "normal":
        path = slerp(start[:, None], end[:, None], t)
    else:
        path = start[:, None] + t * (end - start)[:, None]
    return path.reshape(rows * frames, -1)
