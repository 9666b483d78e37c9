"""The players of the semi-supervised GAN of Salimans et al. 2016 (arXiv 1606.03498), MNIST setup.

D is a K-class classifier: 784-1000-500-250-250-250-K, every layer weight-normalized
(Salimans & Kingma 2016, arXiv 1602.07868) with data-dependent initialization, ReLU,
and Gaussian noise on its input (std 0.3) and after each hidden layer (std 0.5).
Its (K+1)-th class "fake" has the fixed logit 0, so D needs no extra output.

G is 100-500-500-784: softplus hidden layers with batch norm and a weight-normalized
sigmoid output, fed uniform noise in [0, 1)^100 as in the paper's MNIST code.

Every layer holds ``copies`` independent networks side by side (a leading copy axis
on each weight, batched matrix products), so that several seeds train in one set of
kernels: these small MLPs are bound by kernel launches on a GPU, not by arithmetic.
A plain network is the one-copy case. ``stack_copies`` joins one-copy networks (one
per seed) into a stack and ``copy_of`` takes one back out.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class WNLinear(nn.Module):
    """Weight-normalized linear layer: ``y = g * (x @ v.T) / ||v|| + b``, one g per unit, per copy.

    Takes (copies, batch, in) and returns (copies, batch, out). With ``init_mode`` on,
    the next forward sets g and b from that batch so the pre-activations come out with
    zero mean and unit variance per unit (the data-dependent initialization of
    Salimans & Kingma 2016, section 3). ``train_scale=False`` keeps g where the init put
    it: the improved-GAN MNIST code trains the scale only in D's output layer and G's
    output layer.
    """

    def __init__(self, in_features: int, out_features: int, train_scale: bool = True, init_scale: float = 1.0,
                 v_std: float = 0.1, copies: int = 1):
        super().__init__()
        self.copies = copies
        # v's scale matters with Adam: it sets how fast the direction v / ||v|| turns
        self.v = nn.Parameter(torch.randn(copies, out_features, in_features) * v_std)
        if train_scale:
            self.g = nn.Parameter(torch.ones(copies, out_features))
        else:  # set by the data-dependent init, then fixed (a buffer: saved, averaged by copy)
            self.register_buffer("g", torch.ones(copies, out_features))
        self.b = nn.Parameter(torch.zeros(copies, out_features))
        self.init_scale = init_scale
        self.init_mode = False

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.linalg.vector_norm(self.v, dim=2)
        if self.init_mode:
            with torch.no_grad():
                direction = torch.bmm(x, self.v.transpose(1, 2)) / norm.unsqueeze(1)
                mean, std = direction.mean(1), direction.std(1, unbiased=False)
                self.g.copy_(self.init_scale / (std + 1e-8))
                self.b.copy_(-mean * self.g)
            self.init_mode = False
        # the scale g / ||v|| is applied to the (batch x out) product, not to the (out x in) weight:
        # the same numbers, with fewer elementwise operations on a CPU (the first layer's weight has
        # 784,000 entries, a batch of its outputs 100,000)
        return torch.addcmul(self.b.unsqueeze(1), per_copy_matmul(x, self.v), (self.g / norm).unsqueeze(1))


def per_copy_matmul(x: Tensor, weight: Tensor) -> Tensor:
    """(copies, batch, in) x (copies, out, in) -> (copies, batch, out): each copy's x @ weight.T.

    One copy goes through a plain matrix product: on a CPU, bmm and its backward copy
    transposed operands that mm reads in place (about a tenth of a paper-size step).
    """
    if x.shape[0] == 1:
        return torch.mm(x[0], weight[0].t()).unsqueeze(0)
    return torch.bmm(x, weight.transpose(1, 2))


class CopyLinear(nn.Module):
    """A linear layer without bias, per copy: (copies, batch, in) -> (copies, batch, out)."""

    def __init__(self, in_features: int, out_features: int, copies: int = 1):
        super().__init__()
        self.copies = copies
        self.weight = nn.Parameter(torch.randn(copies, out_features, in_features) / math.sqrt(in_features))

    def forward(self, x: Tensor) -> Tensor:
        return per_copy_matmul(x, self.weight)


class CopyBatchNorm(nn.Module):
    """Batch norm over the batch axis of (copies, batch, features), each copy with its own statistics.

    A learned shift and no scale, as in the paper's G (its batch norm has g=None).
    """

    def __init__(self, features: int, copies: int = 1, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.copies, self.momentum, self.eps = copies, momentum, eps
        self.bias = nn.Parameter(torch.zeros(copies, features))
        self.register_buffer("running_mean", torch.zeros(copies, features))
        self.register_buffer("running_var", torch.ones(copies, features))

    def forward(self, x: Tensor) -> Tensor:
        c, n, f = x.shape
        # (copies, batch, f) -> (batch, copies * f): every (copy, unit) is a channel of one batch norm
        flat = x.transpose(0, 1).reshape(n, c * f)
        out = F.batch_norm(flat, self.running_mean.view(-1), self.running_var.view(-1), None, self.bias.view(-1),
                           self.training, self.momentum, self.eps)
        return out.view(n, c, f).transpose(0, 1)


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode; the identity at test time."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return torch.add(x, torch.randn_like(x), alpha=self.std) if self.training and self.std > 0 else x


class Classifier(nn.Module):
    """The discriminator/classifier D.

    ``forward(x)``: images (B, ...) -> K logits (B, K), the classifier a user calls (a
    stack of copies returns (copies, B, K): every copy on the same images).
    ``stacked(x)`` / ``stacked_features(x)``: one batch per copy, (copies, B, in_features).

    in_features: flattened image size (784). hidden: widths of the hidden layers
    (paper: 1000, 500, 250, 250, 250). input_noise / hidden_noise: Gaussian noise
    std on the input and after each hidden layer (paper: 0.3 and 0.5).
    """

    def __init__(self, in_features: int = 784, hidden: tuple[int, ...] = (1000, 500, 250, 250, 250),
                 num_classes: int = 10, input_noise: float = 0.3, hidden_noise: float = 0.5, copies: int = 1):
        super().__init__()
        self.in_features, self.num_classes, self.copies = in_features, num_classes, copies
        layers: list[nn.Module] = [GaussianNoise(input_noise)]
        width = in_features
        for i, h in enumerate(hidden):
            layers += [WNLinear(width, h, train_scale=False, copies=copies), nn.ReLU()]
            if i < len(hidden) - 1:
                layers.append(GaussianNoise(hidden_noise))
            width = h
        self.body = nn.Sequential(*layers)
        self.noise_out = GaussianNoise(hidden_noise)
        self.head = WNLinear(width, num_classes, train_scale=True, copies=copies)

    def stacked_features(self, x: Tensor) -> Tensor:
        """The last hidden layer (before its noise), per copy: where feature matching looks."""
        return self.body(x)

    def stacked(self, x: Tensor) -> Tensor:
        return self.head(self.noise_out(self.body(x)))

    def _every_copy(self, x: Tensor) -> Tensor:
        return x.flatten(1).unsqueeze(0).expand(self.copies, -1, -1)

    def _plain(self, out: Tensor) -> Tensor:
        return out[0] if self.copies == 1 else out

    def features(self, x: Tensor) -> Tensor:
        return self._plain(self.stacked_features(self._every_copy(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self._plain(self.stacked(self._every_copy(x)))


class Generator(nn.Module):
    """G: z (uniform in [0, 1)^z_dim) -> softplus(BN(linear)) x len(hidden) -> sigmoid(WN linear).

    Takes (copies, n, z_dim) and returns (copies, n, out_features).
    """

    def __init__(self, z_dim: int = 100, hidden: tuple[int, ...] = (500, 500), out_features: int = 784,
                 copies: int = 1):
        super().__init__()
        self.z_dim, self.copies = z_dim, copies
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            # no bias: batch norm's shift takes its place; no scale (as in the paper's code)
            layers += [CopyLinear(width, h, copies), CopyBatchNorm(h, copies), nn.Softplus()]
            width = h
        self.body = nn.Sequential(*layers)
        # g starts at 1 and is trained; no data-dependent init for G
        self.out = WNLinear(width, out_features, train_scale=True, v_std=0.05, copies=copies)

    def noise(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        """(copies, n, z_dim) uniform noise."""
        return torch.rand(self.copies, n, self.z_dim, generator=generator, device=device)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.out(self.body(z)))


@torch.no_grad()
def data_dependent_init(model: nn.Module, x: Tensor) -> None:
    """Initialize every WNLinear in ``model`` from one forward pass on the batch ``x``.

    Layers are initialized in forward order, each on the output of the already
    initialized layers below it (Salimans & Kingma 2016; the improved-GAN code
    uses a batch of 500 training images for D). ``x``: what ``model`` takes.
    """
    layers = [m for m in model.modules() if isinstance(m, WNLinear)]
    for m in layers:
        m.init_mode = True
    try:
        model(x)
    finally:
        for m in layers:
            m.init_mode = False


def _set_copies(module: nn.Module, copies: int) -> None:
    for m in module.modules():
        if hasattr(m, "copies"):
            m.copies = copies


def stack_copies(models: Sequence[nn.Module]) -> nn.Module:
    """One module holding ``models`` (one-copy networks of one architecture) as its copies, in order.

    Each copy then computes exactly what its model did; Adam and the EMA act per element,
    so training the stack trains each copy as if alone.
    """
    if not models or any(getattr(m, "copies", None) != 1 for m in models):
        raise ValueError("stack_copies needs one or more one-copy networks")
    stack = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    for name, t in stack.state_dict(keep_vars=True).items():
        t.data, t.grad = torch.cat([s[name] for s in states]), None
    _set_copies(stack, len(models))
    return stack


def copy_of(stack: nn.Module, k: int) -> nn.Module:
    """Copy ``k`` of a stack as a one-copy network with its own storage (same train/eval mode)."""
    if not 0 <= k < stack.copies:
        raise IndexError(f"copy {k} of a stack of {stack.copies}")
    one = copy.deepcopy(stack)
    for t in one.state_dict(keep_vars=True).values():
        t.data, t.grad = t.data[k:k + 1].clone(), None
    _set_copies(one, 1)
    return one


def parse_widths(spec: str, key: str) -> tuple[int, ...]:
    """'1000-500-250' -> (1000, 500, 250); raises ValueError naming ``key``."""
    try:
        widths = tuple(int(w) for w in spec.split("-"))
    except ValueError:
        raise ValueError(f"{key}: expected layer widths like '1000-500-250', got {spec!r}") from None
    if not widths or min(widths) <= 0:
        raise ValueError(f"{key}: widths must be positive integers, got {spec!r}")
    return widths
