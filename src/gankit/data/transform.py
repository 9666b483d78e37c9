"""Shape changes shared by the image loaders: subsample, resize, channel count."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.errors import DataError

# Resize in chunks so that 60k images at 64x64 never need one 1 GB float tensor.
_CHUNK = 4096


def check_image_size(image_size: int | None) -> None:
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to (size, size): bilinear with antialias, in float."""
    if x.shape[-2:] == (size, size):
        return x
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, x.shape[0], _CHUNK):
        part = x[start : start + _CHUNK].float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True,
                             align_corners=False)
        out[start : start + _CHUNK] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


def set_channels(x: torch.Tensor, channels: int | None, name: str) -> torch.Tensor:
    """Grey -> RGB by repeating the channel; RGB -> grey by ITU-R 601 luma; None keeps it."""
    have = x.shape[1]
    if channels is None or channels == have:
        return x
    if channels == 3 and have == 1:
        return x.repeat(1, 3, 1, 1)
    if channels == 1 and have == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        grey = (x.float() * weights).sum(dim=1, keepdim=True)
        return grey.round_().clamp_(0, 255).to(torch.uint8)
    raise DataError(f"{name}: channels must be 1 or 3, got {channels!r}")


def sample_rows(total: int, n: int | None, seed: int, name: str) -> torch.Tensor | None:
    """Sorted indices of a random subset of ``n`` rows (reproducible from ``seed``); None: all."""
    if n is None:
        return None
    if not isinstance(n, int) or n < 1:
        raise DataError(f"{name}: n must be a positive integer, got {n!r}")
    if n > total:
        raise DataError(f"{name}: asked for n={n} samples but the split has only {total}")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=gen)[:n].sort().values


def finish_images(
    x: torch.Tensor,
    y: torch.Tensor | None,
    *,
    name: str,
    n: int | None,
    seed: int,
    image_size: int | None,
    channels: int | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Subsample first (so resizing touches only what is kept), then resize and set channels."""
    check_image_size(image_size)
    rows = sample_rows(x.shape[0], n, seed, name)
    if rows is not None:
        x = x[rows]
        y = None if y is None else y[rows]
    if image_size is not None:
        x = resize_uint8(x, image_size)
    x = set_channels(x, channels, name)
    return x.contiguous(), y
