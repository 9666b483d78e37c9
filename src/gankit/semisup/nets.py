"""The players of the semi-supervised GAN of Salimans et al. 2016 (arXiv 1606.03498), MNIST setup.

D is a K-class classifier: 784-1000-500-250-250-250-K, every layer weight-normalized
(Salimans & Kingma 2016, arXiv 1602.07868) with data-dependent initialization, ReLU,
and Gaussian noise on its input (std 0.3) and after each hidden layer (std 0.5).
Its (K+1)-th class "fake" has the fixed logit 0, so D needs no extra output.

G is 100-500-500-784: softplus hidden layers with batch norm and a weight-normalized
sigmoid output, fed uniform noise in [0, 1)^100 as in the paper's MNIST code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class WNLinear(nn.Module):
    """Weight-normalized linear layer: ``y = g * (x @ v.T) / ||v|| + b``, one g per unit.

    With ``init_mode`` on, the next forward sets g and b from that batch so the
    pre-activations come out with zero mean and unit variance per unit (the
    data-dependent initialization of Salimans & Kingma 2016, section 3).
    ``train_scale=False`` keeps g where the init put it: the improved-GAN MNIST code
    trains the scale only in D's output layer and G's output layer.
    """

    def __init__(self, in_features: int, out_features: int, train_scale: bool = True, init_scale: float = 1.0,
                 v_std: float = 0.1):
        super().__init__()
        # v's scale matters with Adam: it sets how fast the direction v / ||v|| turns
        self.v = nn.Parameter(torch.randn(out_features, in_features) * v_std)
        if train_scale:
            self.g = nn.Parameter(torch.ones(out_features))
        else:  # set by the data-dependent init, then fixed (a buffer: saved, averaged by copy)
            self.register_buffer("g", torch.ones(out_features))
        self.b = nn.Parameter(torch.zeros(out_features))
        self.init_scale = init_scale
        self.init_mode = False

    def forward(self, x: Tensor) -> Tensor:
        # x @ (v / ||v||).T computed as (x @ v.T) / ||v||: no normalized copy of the weights
        direction = F.linear(x, self.v) / self.v.norm(dim=1)
        if self.init_mode:
            with torch.no_grad():
                mean, std = direction.mean(0), direction.std(0, unbiased=False)
                self.g.copy_(self.init_scale / (std + 1e-8))
                self.b.copy_(-mean * self.g)
            self.init_mode = False
        return direction * self.g + self.b


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode; the identity at test time."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


class Classifier(nn.Module):
    """The discriminator/classifier D: returns K logits; ``features`` gives the last hidden layer.

    in_features: flattened image size (784). hidden: widths of the hidden layers
    (paper: 1000, 500, 250, 250, 250). input_noise / hidden_noise: Gaussian noise
    std on the input and after each hidden layer (paper: 0.3 and 0.5).
    """

    def __init__(self, in_features: int = 784, hidden: tuple[int, ...] = (1000, 500, 250, 250, 250),
                 num_classes: int = 10, input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        layers: list[nn.Module] = [GaussianNoise(input_noise)]
        width = in_features
        for i, h in enumerate(hidden):
            layers += [WNLinear(width, h, train_scale=False), nn.ReLU()]
            if i < len(hidden) - 1:
                layers.append(GaussianNoise(hidden_noise))
            width = h
        self.body = nn.Sequential(*layers)
        self.noise_out = GaussianNoise(hidden_noise)
        self.head = WNLinear(width, num_classes, train_scale=True)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer (before its noise): where feature matching looks."""
        return self.body(x.flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.noise_out(self.features(x)))

    def logits_and_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x)
        return self.head(self.noise_out(h)), h


class Generator(nn.Module):
    """G: z (uniform in [0, 1)^z_dim) -> softplus(BN(linear)) x len(hidden) -> sigmoid(WN linear)."""

    def __init__(self, z_dim: int = 100, hidden: tuple[int, ...] = (500, 500), out_features: int = 784):
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            # no bias: batch norm's shift takes its place; its scale stays 1 (as in the paper's code)
            bn = nn.BatchNorm1d(h)
            bn.weight.requires_grad_(False)
            layers += [nn.Linear(width, h, bias=False), bn, nn.Softplus()]
            width = h
        self.body = nn.Sequential(*layers)
        # g starts at 1 and is trained; no data-dependent init for G
        self.out = WNLinear(width, out_features, train_scale=True, v_std=0.05)
        for m in self.body:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=1 / math.sqrt(m.in_features))

    def noise(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        return torch.rand(n, self.z_dim, generator=generator, device=device)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.out(self.body(z)))


@torch.no_grad()
def data_dependent_init(model: nn.Module, x: Tensor) -> None:
    """Initialize every WNLinear in ``model`` from one forward pass on the batch ``x``.

    Layers are initialized in forward order, each on the output of the already
    initialized layers below it (Salimans & Kingma 2016; the improved-GAN code
    uses a batch of 500 training images for D).
    """
    layers = [m for m in model.modules() if isinstance(m, WNLinear)]
    for m in layers:
        m.init_mode = True
    try:
        model(x)
    finally:
        for m in layers:
            m.init_mode = False


def parse_widths(spec: str, key: str) -> tuple[int, ...]:
    """'1000-500-250' -> (1000, 500, 250); raises ValueError naming ``key``."""
    try:
        widths = tuple(int(w) for w in spec.split("-"))
    except ValueError:
        raise ValueError(f"{key}: expected layer widths like '1000-500-250', got {spec!r}") from None
    if not widths or min(widths) <= 0:
        raise ValueError(f"{key}: widths must be positive integers, got {spec!r}")
    return widths
