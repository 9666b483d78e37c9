"""Random image augmentations used while training (translation, flips), on batches of tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_shift(images: Tensor, max_shift: int, fill: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
    """Each image of ``images`` (N, C, H, W) moved by its own random (dy, dx) in [-max_shift, max_shift]^2.

    Pixels moved in from outside get ``fill`` (0: MNIST's background in [0, 1]; -1 in [-1, 1]).
    The shifts come from ``generator``, else torch's global stream (so they follow the run's seeding).
    """
    if max_shift <= 0:
        return images
    n, c, h, w = images.shape
    m, device = max_shift, images.device
    padded = F.pad(images, (m, m, m, m), value=fill)
    dy, dx = torch.randint(0, 2 * m + 1, (2, n), device=device if generator is None else generator.device,
                           generator=generator).to(device)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]   # (n, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]   # (n, 1, 1, w)
    return padded[torch.arange(n, device=device)[:, None, None, None], torch.arange(c, device=device)[None, :, None, None],
                  rows, cols]


def random_hflip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each image of ``images`` (N, C, H, W) mirrored left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(3), images)
