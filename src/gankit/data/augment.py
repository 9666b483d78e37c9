"""Random image augmentations used while training (translation, flips), on batches of tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _rng_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Where random numbers must be drawn: on ``generator``'s device, else on ``device`` (torch's stream)."""
    return device if generator is None else generator.device


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
    dy, dx = torch.randint(0, 2 * m + 1, (2, n), device=_rng_device(generator, device), generator=generator).to(device)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]   # (n, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]   # (n, 1, 1, w)
    return padded[torch.arange(n, device=device)[:, None, None, None], torch.arange(c, device=device)[None, :, None, None],
                  rows, cols]


def random_hflip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each image of ``images`` (N, C, H, W) mirrored left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(3), images)


def random_affine(images: Tensor, degrees: float = 15.0, scale: tuple[float, float] = (0.9, 1.1),
                  shift: float = 0.1, fill: float = -1.0, generator: torch.Generator | None = None) -> Tensor:
    """Classic augmentation: each image rotated by up to ``degrees``, scaled by a factor in ``scale``
    and moved by up to ``shift`` of its side, bilinearly resampled; pixels from outside get ``fill``."""
    n, device = images.shape[0], images.device
    u = torch.rand(4, n, generator=generator, device=_rng_device(generator, device)).to(device)
    angle = (u[0] * 2 - 1) * degrees * torch.pi / 180
    factor = scale[0] + u[1] * (scale[1] - scale[0])
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    dx, dy = (u[2] * 2 - 1) * shift * 2, (u[3] * 2 - 1) * shift * 2   # grid units: the side is 2 long
    theta = torch.stack([torch.stack([cos, -sin, dx], 1), torch.stack([sin, cos, dy], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # sampled with the background subtracted, so zero padding reads as `fill`
    return F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


# --- DiffAugment (Zhao et al. 2020): differentiable augmentations of everything D sees ----------------

def _brightness(x: Tensor, g: torch.Generator | None) -> Tensor:
    return x + (_rand(x, g) - 0.5)


def _saturation(x: Tensor, g: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x, g) * 2) + mean


def _contrast(x: Tensor, g: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, g) + 0.5) + mean


def _translation(x: Tensor, g: torch.Generator | None, ratio: float = 0.125) -> Tensor:
    # the paper pads with zeros (mid-grey in [-1, 1]); D learns to ignore the border either way
    return random_shift(x, int(x.shape[2] * ratio + 0.5), fill=0.0, generator=g)


def _cutout(x: Tensor, g: torch.Generator | None, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    device = _rng_device(g, x.device)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g, device=device).to(x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g, device=device).to(x.device) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).to(x.dtype)[:, None]


def _rand(x: Tensor, g: torch.Generator | None) -> Tensor:
    """One uniform number per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=g, device=_rng_device(g, x.device)).to(device=x.device,
                                                                                               dtype=x.dtype)


DIFFAUG_OPS = {"color": (_brightness, _saturation, _contrast), "translation": (_translation,), "cutout": (_cutout,)}


def parse_diffaug(policy: str) -> tuple[str, ...]:
    """``"translation,cutout,color"`` (any subset, any order; "" for none) as a tuple of names; ValueError names
    an unknown one."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in DIFFAUG_OPS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(map(repr, unknown))}; choose from {', '.join(DIFFAUG_OPS)}")
    return names


class DiffAugment:
    """The same random, differentiable transformations for every batch D sees, real or generated.

    Each image draws its own parameters (from ``generator``, else torch's stream, which the loop seeds
    per step, so a resumed run augments exactly as the uninterrupted one). Gradients flow through to
    the generator: that is what lets D be augmented without G learning the augmentations.
    """

    def __init__(self, policy: str):
        self.policy = parse_diffaug(policy)

    def __bool__(self) -> bool:
        return bool(self.policy)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for name in self.policy:
            for op in DIFFAUG_OPS[name]:
                x = op(x, generator)
        return x.contiguous()
