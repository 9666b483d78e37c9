"""Classifiers to attack and to defend, with the input normalization inside the model.

Every attack in :mod:`gankit.attacks` takes images in [0, 1]. The most common
mistake with other libraries is to feed the attack normalized images (mean 0,
std 1) so that the eps ball and the [0, 1] box are measured in the wrong units;
here the model normalizes its own inputs, so ``eps = 0.3`` means 0.3 of the
pixel range, as in the papers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MODELS", "Normalize", "MadryCNN", "SmallCNN", "build_model"]


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, for inputs in [0, 1]; the first layer of a classifier."""

    def __init__(self, mean: float | list[float], std: float | list[float]):
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if (std_t <= 0).any():
            raise ValueError(f"std must be positive, got {std}")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class MadryCNN(nn.Module):
    """The MNIST network of Madry et al. 2018 ("Towards Deep Learning Models Resistant to
    Adversarial Attacks", https://arxiv.org/abs/1706.06083, their ``mnist_challenge`` model):
    conv 32 5x5 -> ReLU -> maxpool 2 -> conv 64 5x5 -> ReLU -> maxpool 2 -> fc 1024 -> ReLU -> fc 10.

    Inputs: images in [0, 1], shape (N, in_channels, image_size, image_size); the
    normalization (``mean``/``std``, defaults 0 and 1 as in Madry et al.) is the
    model's first layer. ``width`` scales the channel counts (1 = 32/64, as published; 0.5 =
    16/32, their "capacity scale 8" of Figure 4 with ``hidden=512``).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: float = 1.0, hidden: int = 1024, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        if image_size % 4 != 0:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        self.args = {"in_channels": in_channels, "image_size": image_size, "num_classes": num_classes,
                     "width": width, "hidden": hidden, "mean": mean, "std": std}
        c1, c2 = max(1, round(32 * width)), max(1, round(64 * width))
        self.net = nn.Sequential(
            Normalize(mean, std),
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (image_size // 4) ** 2, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits, shape (N, num_classes)."""
        return self.net(x)


class SmallCNN(nn.Module):
    """A cheaper MNIST CNN for CPU budgets: conv 16 3x3 -> pool -> conv 32 3x3 -> pool -> fc
    ``hidden`` -> fc 10, normalization inside (MNIST mean 0.1307, std 0.3081 by default)."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 hidden: int = 128, mean: float = 0.1307, std: float = 0.3081):
        super().__init__()
        if image_size % 4 != 0:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        self.args = {"in_channels": in_channels, "image_size": image_size, "num_classes": num_classes,
                     "hidden": hidden, "mean": mean, "std": std}
        self.net = nn.Sequential(
            Normalize(mean, std),
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (image_size // 4) ** 2, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


#: architecture name -> class, for checkpoints and the CLI
MODELS: dict[str, type[nn.Module]] = {"madry": MadryCNN, "small": SmallCNN}


def build_model(arch: str, **kwargs) -> nn.Module:
    """Construct a registered architecture by name (``madry`` or ``small``)."""
    if arch not in MODELS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(MODELS)}")
    return MODELS[arch](**kwargs)
