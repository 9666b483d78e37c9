"""What is observed and how the net's output is compared to it: one ``Problem`` per task.

DIP fits the net's output x (on a canvas whose sides are multiples of 32) so that A(x) matches
the observed photo y where the weight w is 1:

    inpaint   A = identity, w = the mask (white = keep)
    denoise   A = identity, w = 1
    superres  A = Lanczos-2 downsampling by the scale, w = 1; x has scale times y's size

Photos whose sides are not multiples of 32 (or are below 64) are mirrored out to the canvas;
the padding gets w = 0 and is cropped off the restored image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.restore.hourglass import MULTIPLE, SMALLEST
from gankit.restore.images import crop, pad_to, padding_for
from gankit.restore.resample import LanczosDownsampler

MAX_SCALE = 16


@dataclass
class Problem:
    task: str
    observed: Tensor              # (C, h, w) y on the observation canvas
    weight: Tensor                # (1, h, w) 1 where y counts in the loss
    size: tuple[int, int]         # (H, W) of the restored image (before padding to the canvas)
    scale: int = 1
    given: Tensor | None = None       # (C, h, w) the corrupted photo as given (low resolution for superres)
    mask: Tensor | None = None        # (1, H, W) inpainting: 1 = keep
    reference: Tensor | None = None   # (C, H, W) the clean photo, when known

    @property
    def channels(self) -> int:
        return self.observed.shape[0]

    @property
    def canvas(self) -> tuple[int, int]:
        """(H, W) of the net's output."""
        return self.observed.shape[1] * self.scale, self.observed.shape[2] * self.scale

    def operator(self, device: torch.device) -> torch.nn.Module:
        """A: the output -> the observation's space."""
        if self.scale == 1:
            return torch.nn.Identity()
        return LanczosDownsampler(self.scale, self.channels).to(device)

    def crop(self, x: Tensor) -> Tensor:
        """The restored image from the output canvas."""
        return crop(x, *self.size)

    def shown(self) -> Tensor:
        """The corrupted photo at the restoration's size (superres: enlarged by pixel repetition)."""
        if self.scale == 1:
            return self.given
        return torch.nn.functional.interpolate(self.given[None], scale_factor=self.scale, mode="nearest")[0]


def _check_reference(reference: Tensor | None, size: tuple[int, int], channels: int, where: str) -> None:
    if reference is None:
        return
    if tuple(reference.shape[1:]) != size:
        raise DataError(f"--reference {where}: {reference.shape[2]}x{reference.shape[1]} pixels, but the restored "
                        f"image will be {size[1]}x{size[0]}")
    if reference.shape[0] != channels:
        kinds = {1: "gray", 3: "colour"}
        raise DataError(f"--reference {where}: a {kinds[reference.shape[0]]} image, but the input is "
                        f"{kinds[channels]}; give both in colour or both in gray")


def inpainting(image: Tensor, mask: Tensor, reference: Tensor | None = None, reference_path: str | Path = "") -> Problem:
    """``image`` (C, H, W) with the hidden pixels to fill in where ``mask`` (1, H, W) is 0."""
    size = tuple(image.shape[1:])
    if tuple(mask.shape) != (1, *size):
        raise DataError(f"the mask has shape {list(mask.shape)}, but the image needs [1, {size[0]}, {size[1]}]")
    if not (mask == 0).any() or not (mask == 1).any():
        raise DataError("the mask must keep some pixels (1, white) and hide others (0, black)")
    _check_reference(reference, size, image.shape[0], str(reference_path))
    rows, cols = padding_for(*size, MULTIPLE, SMALLEST)
    weight = torch.nn.functional.pad(mask, (0, cols, 0, rows))
    return Problem("inpaint", pad_to(image * mask, rows, cols), weight, size, 1, image, mask, reference)


def denoising(image: Tensor, reference: Tensor | None = None, reference_path: str | Path = "") -> Problem:
    size = tuple(image.shape[1:])
    _check_reference(reference, size, image.shape[0], str(reference_path))
    rows, cols = padding_for(*size, MULTIPLE, SMALLEST)
    weight = torch.nn.functional.pad(torch.ones(1, *size), (0, cols, 0, rows))
    return Problem("denoise", pad_to(image, rows, cols), weight, size, 1, image, None, reference)


def super_resolution(image: Tensor, scale: int, reference: Tensor | None = None,
                     reference_path: str | Path = "") -> Problem:
    """``image`` (C, h, w) is the low-resolution photo; the restoration has ``scale`` times its sides."""
    if not 2 <= scale <= MAX_SCALE:
        raise DataError(f"--scale must be an integer from 2 to {MAX_SCALE}, got {scale}")
    h, w = image.shape[1:]
    size = (h * scale, w * scale)
    _check_reference(reference, size, image.shape[0], str(reference_path))
    step = MULTIPLE // math.gcd(MULTIPLE, scale)   # low-resolution sides that make the canvas a multiple of 32
    rows, cols = padding_for(h, w, step, -(-SMALLEST // scale))
    weight = torch.nn.functional.pad(torch.ones(1, h, w), (0, cols, 0, rows))
    return Problem("superres", pad_to(image, rows, cols), weight, size, scale, image, None, reference)
