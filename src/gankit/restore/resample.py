"""Resampling for super-resolution: the Lanczos downsampler DIP fits through, and the photo-level resizes.

DIP super-resolution fits the net's high-resolution output x so that d(x), its downsampled
version, matches the low-resolution photo. The paper's d is a Lanczos-2 filter followed by
decimation: here a fixed depthwise convolution with stride ``factor`` (the kernel sampled at
the centres of the high-resolution pixels, normalised to sum 1; edges padded by replication).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn


def lanczos_kernel(factor: int, lobes: int = 2) -> Tensor:
    """The separable 1-D Lanczos-``lobes`` kernel for decimation by ``factor``: 2 * lobes * factor taps
    (one more for an odd factor, whose low-resolution pixel centres fall on high-resolution ones)."""
    taps = 2 * lobes * factor + factor % 2
    x = (torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2) / factor   # in low-resolution pixels
    w = torch.sinc(x) * torch.sinc(x / lobes)
    return (w / w.sum()).float()


class LanczosDownsampler(nn.Module):
    """(N, C, H, W) -> (N, C, H / factor, W / factor) through a Lanczos-2 low-pass, differentiable."""

    def __init__(self, factor: int, channels: int, lobes: int = 2):
        super().__init__()
        k = lanczos_kernel(factor, lobes)
        self.factor, self.channels, self.pad = factor, channels, (len(k) - factor) // 2
        self.register_buffer("kernel", (k[:, None] * k[None, :]).expand(channels, 1, len(k), len(k)).contiguous(),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (self.pad,) * 4, mode="replicate")
        return F.conv2d(x, self.kernel, stride=self.factor, groups=self.channels)


def resize(x: Tensor, height: int, width: int, method: str = "lanczos") -> Tensor:
    """(C, H, W) in [0, 1] resized by PIL (``lanczos`` or ``bicubic``) in floating point, clipped to [0, 1]."""
    resample = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC}[method]
    planes = [Image.fromarray(c.numpy().astype(np.float32), mode="F").resize((width, height), resample)
              for c in x.detach().float().cpu()]
    return torch.from_numpy(np.stack([np.asarray(p) for p in planes])).clamp_(0, 1)


def downsample(x: Tensor, factor: int) -> Tensor:
    """The low-resolution version of a photo (C, H, W): Lanczos resize by 1 / ``factor`` (sides rounded down)."""
    return resize(x, max(1, x.shape[1] // factor), max(1, x.shape[2] // factor), "lanczos")
