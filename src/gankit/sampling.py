"""Loading a trained generator from a checkpoint and drawing samples or interpolations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import checkpoint
from gankit.config import Config, from_dict
from gankit.errors import GankitError
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
    cfg = from_dict(Config, record["config"])
    G, _ = build_players(cfg, tuple(record["sample_shape"]), record["num_classes"])
    name = "G_ema" if ema and any(k.startswith("G_ema/") for k in tensors) else "G"
    G.load_state_dict(checkpoint.module_state(tensors, name))
    G.to(device).eval()
    classes = record["num_classes"] if cfg.model.conditional != "none" else 0
    return LoadedGenerator(G, cfg, record["step"], classes, record.get("class_names"), json_path)


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
