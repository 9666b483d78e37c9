"""Generators and discriminators as plain nn.Modules, plus a name -> class table for the CLI.

Every generator: forward(z, y=None) -> (B, *sample_shape) in [-1, 1] (the "mlp" net on
1-D points has a linear output), attributes z_dim, num_classes, sample_shape.
Every discriminator: forward(x, y=None) -> logits (B,), or (logits, class_logits) when
cond="ac"; attributes num_classes, cond, sample_shape.

    G = build_generator("dcgan", z_dim=100, sample_shape=(1, 28, 28))
    D = build_discriminator("dcgan", sample_shape=(1, 28, 28), num_classes=10, cond="projection")
"""

from __future__ import annotations

import inspect

from torch import nn

# Importing the architecture modules fills the tables through their decorators.
from gankit.nets import dcgan, mlp, resnet  # noqa: F401
from gankit.nets.base import Discriminator, Generator
from gankit.nets.registry import (
    DISCRIMINATORS,
    GENERATORS,
    lookup,
    register_discriminator,
    register_generator,
)

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "Discriminator",
    "Generator",
    "build_discriminator",
    "build_generator",
    "count_parameters",
    "register_discriminator",
    "register_generator",
]


def build_generator(
    arch: str,
    *,
    z_dim: int,
    sample_shape: tuple[int, ...],
    num_classes: int = 0,
    width: int | None = None,
    spectral_norm: bool = False,
) -> nn.Module:
    """The generator registered as `arch`. width=None means the architecture's published default."""
    cls = lookup(GENERATORS, "generator", arch)
    return cls(
        z_dim=z_dim,
        sample_shape=tuple(sample_shape),
        num_classes=num_classes,
        width=width,
        spectral_norm=spectral_norm,
    )


def build_discriminator(
    arch: str,
    *,
    sample_shape: tuple[int, ...],
    num_classes: int = 0,
    cond: str = "none",
    width: int | None = None,
    spectral_norm: bool = False,
    dropout: float | None = None,
    norm: str | None = None,
) -> nn.Module:
    """The discriminator registered as `arch`; cond is "none", "projection" or "ac".

    `norm` (None: the architecture's default) is passed only to architectures that take it.
    """
    cls = lookup(DISCRIMINATORS, "discriminator", arch)
    extra = {} if norm is None else {"norm": norm}
    if extra and "norm" not in inspect.signature(cls).parameters:
        raise ValueError(f"the {arch!r} discriminator has no norm option")
    return cls(
        sample_shape=tuple(sample_shape),
        num_classes=num_classes,
        cond=cond,
        width=width,
        spectral_norm=spectral_norm,
        dropout=dropout,
        **extra,
    )


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (spectral norm's u/v vectors are buffers and are not counted)."""
    return sum(p.numel() for p in module.parameters())
