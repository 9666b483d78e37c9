"""The skip hourglass of Deep Image Prior (Ulyanov, Vedaldi, Lempitsky 2018, supplementary material, Fig. 21).

An encoder-decoder with one skip connection per scale. At scale i (0 = full resolution):

    down_i : conv 3x3 stride 2 -> BN -> LeakyReLU -> conv 3x3 -> BN -> LeakyReLU     (halves the size)
    skip_i : conv 1x1 -> BN -> LeakyReLU                                              (none when 0 channels)
    up_i   : BN(concat(skip_i, upsample(deeper))) -> conv 3x3 -> BN -> LeakyReLU -> conv 1x1 -> BN -> LeakyReLU

and a final 1x1 conv and sigmoid. Every convolution pads by reflection, so the borders hold no
zeros to fit. Five scales halve the size five times: the canvas side must be a multiple of 32,
and at least 64 (gankit.restore.problem pads the photo to such a canvas).

The net's input (``net_input``) is fixed: uniform noise scaled by 1/10 (32 channels in the
paper) or a meshgrid of the two coordinates.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

SCALES = 5
MULTIPLE = 2 ** SCALES   # the canvas side must be a multiple of this
SMALLEST = 2 * MULTIPLE  # and at least this: batch norm needs more than one value at the coarsest scale


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1, pad: str = "reflection") -> nn.Module:
    """A convolution that keeps the size (or halves it at stride 2); reflection padding as in the paper."""
    p = (kernel - 1) // 2
    if pad == "reflection" and p > 0:
        return nn.Sequential(nn.ReflectionPad2d(p), nn.Conv2d(c_in, c_out, kernel, stride))
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=p)


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int = 1, pad: str = "reflection") -> list[nn.Module]:
    return [conv(c_in, c_out, kernel, stride, pad), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


class Scale(nn.Module):
    """One scale of the hourglass: skip branch, downsampling branch around the deeper scales, merge."""

    def __init__(self, c_in: int, down: int, up: int, skip: int, deeper_out: int, deeper: nn.Module | None,
                 kernel: int, upsample: str, pad: str):
        super().__init__()
        self.skip = nn.Sequential(*conv_bn_act(c_in, skip, 1, pad=pad)) if skip else None
        self.down = nn.Sequential(*conv_bn_act(c_in, down, kernel, 2, pad), *conv_bn_act(down, down, kernel, pad=pad))
        self.deeper = deeper
        align = None if upsample == "nearest" else False
        self.upsample = nn.Upsample(scale_factor=2, mode=upsample, align_corners=align)
        merged = skip + deeper_out
        self.up = nn.Sequential(nn.BatchNorm2d(merged), *conv_bn_act(merged, up, kernel, pad=pad),
                                *conv_bn_act(up, up, 1, pad=pad))

    def forward(self, x: Tensor) -> Tensor:
        y = self.down(x)
        if self.deeper is not None:
            y = self.deeper(y)
        y = self.upsample(y)
        if self.skip is not None:
            y = torch.cat([self.skip(x), y], 1)
        return self.up(y)


class SkipHourglass(nn.Module):
    """Deep Image Prior's ``skip`` net: ``channels_*[i]`` are the widths at scale i (0 = finest)."""

    def __init__(self, in_channels: int, out_channels: int, channels_down: Sequence[int] = (128,) * SCALES,
                 channels_up: Sequence[int] = (128,) * SCALES, channels_skip: Sequence[int] = (4,) * SCALES,
                 kernel: int = 3, upsample: str = "bilinear", pad: str = "reflection"):
        super().__init__()
        if not len(channels_down) == len(channels_up) == len(channels_skip):
            raise ValueError("channels_down, channels_up and channels_skip must have one entry per scale")
        if upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be nearest or bilinear, got {upsample!r}")
        inputs = [in_channels, *channels_down[:-1]]   # scale i reads what scale i-1 passed down
        deeper, deeper_out = None, None
        for i in reversed(range(len(channels_down))):
            deeper = Scale(inputs[i], channels_down[i], channels_up[i], channels_skip[i],
                           channels_down[i] if deeper_out is None else deeper_out, deeper, kernel, upsample, pad)
            deeper_out = channels_up[i]
        self.body = deeper
        self.head = nn.Sequential(conv(channels_up[0], out_channels, 1, pad=pad), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def net_input(kind: str, channels: int, height: int, width: int, generator: torch.Generator) -> Tensor:
    """The fixed input z: ``noise`` (uniform in [0, 0.1), as the paper's code draws it) or ``meshgrid``
    (the x and y coordinates in [0, 1]; two channels whatever ``channels`` says)."""
    if kind == "meshgrid":
        ys = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
        xs = torch.linspace(0, 1, width).view(1, width).expand(height, width)
        return torch.stack([xs, ys])[None].contiguous()
    return torch.rand(1, channels, height, width, generator=generator) * 0.1
