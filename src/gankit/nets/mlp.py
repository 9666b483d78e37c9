"""Fully connected nets: the 2014 MNIST GAN pair and a generic small MLP pair."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.nets.base import Discriminator, Generator, check_dropout
from gankit.nets.layers import LabelConcat, Maxout, add_spectral_norm, make_head
from gankit.nets.registry import register_discriminator, register_generator


def _init_uniform(module: nn.Module, radius: float) -> None:
    """pylearn2's `irange` init: weights U(-r, r), biases 0 (Linear layers only)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -radius, radius)
            nn.init.zeros_(m.bias)


@register_generator("mlp2014")
class MLP2014Generator(Generator):
    """Goodfellow et al. 2014, MNIST generator: z -> 1200 ReLU -> 1200 ReLU -> sigmoid.

    The released config (goodfeli/adversarial mnist.yaml) initializes weights U(-0.05, 0.05).
    """

    def __init__(
        self,
        z_dim: int,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        width: int | None = None,
        spectral_norm: bool = False,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__(z_dim, sample_shape, num_classes)
        width = 1200 if width is None else width
        self.label = LabelConcat(z_dim, num_classes, embed_dim)
        self.net = nn.Sequential(
            nn.Linear(self.label.out_features, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, math.prod(self.sample_shape)),
        )
        _init_uniform(self.net, 0.05)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = self.check_inputs(z, y)
        a = self.net(self.label(z, y))
        # The paper's sigmoid unit outputs pixels in [0, 1]; 2*sigmoid(a) - 1 is that same
        # unit mapped affinely onto gankit's [-1, 1] data range (it equals tanh(a / 2)).
        return (2 * torch.sigmoid(a) - 1).view(-1, *self.sample_shape)

    @torch.no_grad()
    def init_output_bias(self, mean_sample: Tensor, eps: float = 1e-3) -> None:
        """Set the output bias so an all-zero pre-activation yields the data mean, as the
        paper's config did (pylearn2 `init_sigmoid_bias_from_marginals`).

        `mean_sample` is the mean training sample in [-1, 1], shape `sample_shape`.
        """
        out = self.net[-1]
        assert isinstance(out, nn.Linear)
        p = ((mean_sample.flatten() + 1) / 2).clamp(eps, 1 - eps)
        out.bias.copy_(torch.log(p) - torch.log1p(-p))  # logit(p)


@register_discriminator("mlp2014")
class MLP2014Discriminator(Discriminator):
    """Goodfellow et al. 2014, MNIST discriminator: two maxout layers (240 units x 5 pieces).

    Dropout as in the released config: input include-probability 0.8 (p=0.2), hidden
    include-probability 0.5; `dropout` overrides the hidden rate. Weights U(-0.005, 0.005).

    The paper's nets worked on pixels in [0, 1]; gankit's data are in [-1, 1], so D maps
    its input back to [0, 1] first. With G's 2*sigmoid-1 output, D(G(z)) is then exactly
    the paper's composition, and the SGD dynamics match: on [-1, 1] inputs the first
    layer's gradients are several times larger (the background pixels become -1, not 0),
    and the paper's lr of 0.1 diverges.
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        cond: str = "none",
        width: int | None = None,
        spectral_norm: bool = False,
        dropout: float | None = None,
        pieces: int = 5,
    ) -> None:
        super().__init__(sample_shape, num_classes, cond)
        width = 240 if width is None else width
        p = check_dropout(0.5 if dropout is None else dropout)
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            Maxout(math.prod(self.sample_shape), width, pieces),
            nn.Dropout(p),
            Maxout(width, width, pieces),
            nn.Dropout(p),
        )
        self.head = make_head(cond, width, num_classes)
        _init_uniform(self, 0.005)
        if spectral_norm:
            add_spectral_norm(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body((x + 1) / 2)


def _default_mlp_width(sample_shape: tuple[int, ...]) -> int:
    # Toy 2-D points need little capacity (the Unrolled GAN ring used small MLPs).
    return 128 if len(sample_shape) == 1 else 512


@register_generator("mlp")
class MLPGenerator(Generator):
    """Generic 3-hidden-layer ReLU MLP. Linear output for points (1-D samples, e.g. the
    toy ring), tanh for images and other multi-dimensional samples."""

    def __init__(
        self,
        z_dim: int,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        width: int | None = None,
        spectral_norm: bool = False,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__(z_dim, sample_shape, num_classes)
        width = _default_mlp_width(self.sample_shape) if width is None else width
        self.label = LabelConcat(z_dim, num_classes, embed_dim)
        layers: list[nn.Module] = []
        n_in = self.label.out_features
        for _ in range(3):
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        layers.append(nn.Linear(width, math.prod(self.sample_shape)))
        if len(self.sample_shape) > 1:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = self.check_inputs(z, y)
        return self.net(self.label(z, y)).view(-1, *self.sample_shape)


@register_discriminator("mlp")
class MLPDiscriminator(Discriminator):
    """Generic 3-hidden-layer LeakyReLU(0.2) MLP; optional dropout after each hidden layer."""

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
        width = _default_mlp_width(self.sample_shape) if width is None else width
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = math.prod(self.sample_shape)
        for _ in range(3):
            layers += [nn.Linear(n_in, width), nn.LeakyReLU(0.2)]
            if dropout:
                layers.append(nn.Dropout(check_dropout(dropout)))
            n_in = width
        self.body = nn.Sequential(*layers)
        self.head = make_head(cond, width, num_classes)
        if spectral_norm:
            add_spectral_norm(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)
