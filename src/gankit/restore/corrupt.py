"""The corruptions of the benchmark and the tests: masks (white = keep), Gaussian noise, a low-resolution copy.

Every function is seeded, so a benchmark cell is the same corrupted photo for every method
and every DIP seed.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from gankit.restore.resample import downsample

MASKS = ("pixels50", "text", "box")
TEXT = ("Deep Image Prior fits one photo with an untrained net; stop early and the "
        "output fills what the mask hides. ")


def random_pixels_mask(height: int, width: int, keep: float = 0.5, seed: int = 0) -> Tensor:
    """(1, H, W): each pixel kept with probability ``keep`` (the paper's 50 % missing pixels)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, height, width, generator=g) < keep).float()


def text_mask(height: int, width: int, seed: int = 0) -> Tensor:
    """(1, H, W): lines of text over the photo are the pixels to fill in (about 10 % of them; the
    font grows with the photo, so the strokes stay 1-3 pixels wide)."""
    size = max(10, height // 14)
    font = default_font(size)
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    g = torch.Generator().manual_seed(seed)
    offset = int(torch.randint(0, len(TEXT), (1,), generator=g))
    words = (TEXT[offset:] + TEXT * 8)
    line_height = int(size * 1.9)
    for row, y in enumerate(range(size // 2, height - size // 2, line_height)):
        start = (row * 29) % len(TEXT)
        draw.text((-(row * 7) % size, y), words[start:start + 200], fill=0, font=font)
    return (torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0)[None] >= 0.5).float()


def default_font(size: int) -> ImageFont.ImageFont:
    """PIL's default font at ``size`` pixels (text masks, strip labels)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):   # Pillow < 10.1 or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def box_mask(height: int, width: int, fraction: float = 0.25) -> Tensor:
    """(1, H, W): a central box covering ``fraction`` of each side is to be filled in."""
    mask = torch.ones(1, height, width)
    bh, bw = max(1, round(height * fraction)), max(1, round(width * fraction))
    top, left = (height - bh) // 2, (width - bw) // 2
    mask[:, top:top + bh, left:left + bw] = 0
    return mask


def make_mask(kind: str, height: int, width: int, seed: int = 0) -> Tensor:
    if kind == "pixels50":
        return random_pixels_mask(height, width, 0.5, seed)
    if kind == "text":
        return text_mask(height, width, seed)
    if kind == "box":
        return box_mask(height, width)
    raise ValueError(f"unknown mask {kind!r}; expected one of {', '.join(MASKS)}")


def masked(x: Tensor, mask: Tensor) -> Tensor:
    """The photo as an inpainting input: hidden pixels black."""
    return x * mask


def add_noise(x: Tensor, sigma: float, seed: int = 0, clip: bool = False) -> Tensor:
    """``x`` plus white Gaussian noise of std ``sigma`` (in [0, 1] units: 25/255 for sigma 25).

    Not clipped by default: the usual protocol of denoising tables (BM3D's noise model is Gaussian;
    clipping to [0, 1], as a saved photo is, costs CBM3D about 1 dB on astronaut)."""
    g = torch.Generator().manual_seed(seed)
    noisy = x + sigma * torch.randn(x.shape, generator=g)
    return noisy.clamp_(0, 1) if clip else noisy


def low_resolution(x: Tensor, scale: int) -> Tensor:
    """The Lanczos-downsampled photo (sides divided by ``scale``)."""
    return downsample(x, scale)
