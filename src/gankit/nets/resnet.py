"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, appendix B.4; the
32x32 CIFAR-10 nets, also used with the projection discriminator).

Sizes: square images of side 4*2^k or 7*2^k. The generator starts at base x base and
has k up-blocks (32x32 -> 3 blocks); the discriminator downsamples k-1 times, to
2*base, then runs two blocks at that resolution (32x32: 32 -> 16 -> 8, 8, 8), so it
needs k >= 2 (16, 28, 32, 56, 64, ...).
Init as in the authors' code: Xavier-uniform, gain sqrt(2) for residual-branch convs
(they feed ReLUs), gain 1 for shortcuts and the input/output layers.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets.base import Discriminator, Generator, check_dropout, square_image_layout
from gankit.nets.layers import ClassBatchNorm2d, add_spectral_norm, make_head
from gankit.nets.registry import register_discriminator, register_generator

BASES = (4, 7)
Layer = TypeVar("Layer", nn.Linear, nn.Conv2d)


def _xavier(layer: Layer, gain: float) -> Layer:
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))


def _conv1(c_in: int, c_out: int) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, 1), 1.0)


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    """Up block: (C)BN, ReLU, upsample x2, conv3x3, (C)BN, ReLU, conv3x3; shortcut upsample + conv1x1."""

    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ClassBatchNorm2d(c_in, num_classes)
        self.conv1 = _conv3(c_in, c_out)
        self.bn2 = ClassBatchNorm2d(c_out, num_classes)
        self.conv2 = _conv3(c_out, c_out)
        self.shortcut = _conv1(c_in, c_out)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = self.conv1(_up(F.relu(self.bn1(x, y))))
        h = self.conv2(F.relu(self.bn2(h, y)))
        # A 1x1 conv commutes with nearest upsampling; convolving first is 4x cheaper.
        return h + _up(self.shortcut(x))


class OptimizedDBlock(nn.Module):
    """First D block: conv3x3, ReLU, conv3x3, avgpool; shortcut avgpool then conv1x1.
    No ReLU on the raw image (the "optimized" block of the SNGAN code)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = _conv3(c_in, c_out)
        self.conv2 = _conv3(c_out, c_out)
        self.shortcut = _conv1(c_in, c_out)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    """D block: ReLU, conv3x3, ReLU, conv3x3, (avgpool); shortcut conv1x1 (+ avgpool)
    when the channels change or it downsamples, identity otherwise."""

    def __init__(self, c_in: int, c_out: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _conv3(c_in, c_out)
        self.conv2 = _conv3(c_out, c_out)
        self.shortcut = _conv1(c_in, c_out) if (c_in != c_out or downsample) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = self.shortcut(x)
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


@register_generator("resnet")
class ResNetGenerator(Generator):
    """z -> linear to (width, base, base) -> k up-blocks -> BN, ReLU, conv3x3, tanh.

    Conditional generators use class-conditional BN in the blocks (SNGAN, BigGAN);
    z is not concatenated with a label code.
    """

    def __init__(
        self,
        z_dim: int,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        width: int | None = None,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__(z_dim, sample_shape, num_classes)
        channels, self.base, k = square_image_layout(self.sample_shape, "resnet generator", BASES, 1)
        self.width = 256 if width is None else width
        self.linear = _xavier(nn.Linear(z_dim, self.width * self.base**2), 1.0)
        self.blocks = nn.ModuleList(GBlock(self.width, self.width, num_classes) for _ in range(k))
        self.bn = nn.BatchNorm2d(self.width)
        self.conv_out = _xavier(nn.Conv2d(self.width, channels, 3, 1, 1), 1.0)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = self.check_inputs(z, y)
        h = self.linear(z).view(-1, self.width, self.base, self.base)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.conv_out(F.relu(self.bn(h))))


@register_discriminator("resnet")
class ResNetDiscriminator(Discriminator):
    """Optimized block, k-2 down blocks, two blocks without downsampling, ReLU, global
    sum pooling -> head. `dropout`, if given, drops the pooled features."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        cond: str = "none",
        width: int | None = None,
        spectral_norm: bool = False,
        dropout: float | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cond)
        channels, _, k = square_image_layout(self.sample_shape, "resnet discriminator", BASES, 2)
        width = 128 if width is None else width
        blocks: list[nn.Module] = [OptimizedDBlock(channels, width)]
        blocks += [DBlock(width, width, downsample=True) for _ in range(k - 2)]
        blocks += [DBlock(width, width, downsample=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(check_dropout(dropout)) if dropout else nn.Identity()
        self.head = make_head(cond, width, num_classes)
        _xavier(self.head.linear, 1.0)
        if spectral_norm:
            add_spectral_norm(self)

    def features(self, x: Tensor) -> Tensor:
        # Global sum pooling, as in the SNGAN code: with a spectrally normalized head a
        # mean would shrink every logit by the map's area.
        return self.dropout(F.relu(self.blocks(x)).sum(dim=(2, 3)))
