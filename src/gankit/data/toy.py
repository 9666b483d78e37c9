"""2-D Gaussian mixtures used to measure mode collapse."""

from __future__ import annotations

import math

import torch

from gankit.errors import DataError

# name -> standard deviation of every mode
_STD = {
    "ring8": 0.02,  # Metz et al. 2017 (Unrolled GAN): 8 modes on a circle of radius 2
    "grid25": 0.05,  # Srivastava et al. 2017 (VEEGAN): 5x5 grid over {-4,-2,0,2,4}^2
}
DEFAULT_N = {"train": 100_000, "test": 10_000}


def _check(name: str) -> None:
    if name not in _STD:
        raise DataError(f"{name!r} is not a toy dataset; toy datasets: {', '.join(_STD)}")


def toy_modes(name: str) -> torch.Tensor:
    """The true mode centres, float32 (M, 2); row i is the mode with label i."""
    _check(name)
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)).float()
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def toy_std(name: str) -> float:
    """The standard deviation of every mode (isotropic)."""
    _check(name)
    return _STD[name]


def sample_toy(
    name: str, split: str, n: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points (float32 (n, 2)) and their mode indices, reproducible from ``seed``.

    Train and test draw from different generator streams (2*seed and 2*seed+1), so
    the test points never repeat the train points for any seed.
    """
    n = DEFAULT_N[split] if n is None else n
    if not isinstance(n, int) or n < 1:
        raise DataError(f"{name}: n must be a positive integer, got {n!r}")
    modes = toy_modes(name)
    gen = torch.Generator().manual_seed(2 * seed + (split == "test"))
    y = torch.randint(len(modes), (n,), generator=gen)
    x = modes[y] + toy_std(name) * torch.randn(n, 2, generator=gen)
    return x, y
