"""Building blocks shared by every architecture: label checks, maxout, class
conditioning, discriminator heads and the spectral-norm helper."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


def check_labels(y: Tensor | None, num_classes: int, batch_size: int) -> Tensor:
    """Return `y` as int64 (B,) after checking it, or raise a ValueError saying what is wrong.

    The range check costs one device sync; it is worth it because an out-of-range
    index into nn.Embedding on CUDA is an unrecoverable device-side assert (a compiled
    training step, where labels come from a checked dataset, skips it).
    """
    if y is None:
        raise ValueError(
            f"this network is class-conditional ({num_classes} classes) and needs labels y; got None"
        )
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"labels y must be an integer tensor of class indices; got dtype {y.dtype}")
    if y.shape != (batch_size,):
        raise ValueError(f"labels y must have shape ({batch_size},); got {tuple(y.shape)}")
    # a captured training step skips it: its labels are the dataset's (checked when loaded) or drawn in range
    if batch_size and not torch.compiler.is_compiling() and bool(((y < 0) | (y >= num_classes)).any()):
        raise ValueError(
            f"labels y must lie in [0, {num_classes - 1}]; got values from {int(y.min())} to {int(y.max())}"
        )
    return y.long()


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): a linear map to units*pieces, then
    the max over each unit's pieces."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


class LabelConcat(nn.Module):
    """z -> [z, embed(y)]: the class input of the MLP generators
    (conditional GANs, Mirza & Osindero 2014, feed the label next to z).

    With num_classes == 0 it passes z through. The embedding keeps PyTorch's
    N(0, 1) init so the label code has the same scale as z.
    """

    def __init__(self, z_dim: int, num_classes: int, embed_dim: int | None = None) -> None:
        super().__init__()
        embed_dim = min(50, z_dim) if embed_dim is None else embed_dim
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        self.out_features = z_dim + (embed_dim if num_classes > 0 else 0)

    def forward(self, z: Tensor, y: Tensor | None) -> Tensor:
        if self.embed is None:
            return z
        return torch.cat([z, self.embed(y)], dim=1)


class ClassBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are looked up per class (conditional BN, as in
    the SNGAN and BigGAN generators). With num_classes == 0 it is an ordinary affine BN
    and ignores y."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=num_classes == 0)
        if num_classes > 0:
            # Gain starts at 1 and bias at 0 so every class begins as plain BN.
            self.gain = nn.Embedding(num_classes, num_features)
            self.bias = nn.Embedding(num_classes, num_features)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.bn(x)
        if self.num_classes == 0:
            return h
        return h * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


# --- discriminator heads: features h (B, F) -> logits -------------------------------


class Head(nn.Module):
    """Base of the heads: holds the adversarial linear layer shared by all of them."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.linear = nn.Linear(features, 1)

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        raise NotImplementedError


class PlainHead(Head):
    """Unconditional head: one linear adversarial logit per sample."""

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.linear(h).squeeze(1)


class ProjectionHead(Head):
    """Projection discriminator (Miyato & Koyama 2018): linear(h) + <embed(y), h>."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__(features, num_classes)
        self.embed = nn.Embedding(num_classes, features)
        # N(0, 1) rows would dominate linear(h) for wide features; Xavier keeps them comparable.
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        y = check_labels(y, self.num_classes, h.shape[0])
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


class ACHead(Head):
    """Auxiliary-classifier head (Odena et al. 2017): an adversarial logit plus
    class logits. y is not needed (the class loss is computed outside)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__(features, num_classes)
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, h: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.linear(h).squeeze(1), self.classifier(h)


HEADS: dict[str, type[Head]] = {"none": PlainHead, "projection": ProjectionHead, "ac": ACHead}


def make_head(cond: str, features: int, num_classes: int) -> Head:
    """The head for conditioning mode `cond` ("none", "projection" or "ac")."""
    if cond not in HEADS:
        raise ValueError(f"unknown discriminator cond {cond!r}; known: {', '.join(HEADS)}")
    if cond != "none" and num_classes < 1:
        raise ValueError(f"cond={cond!r} needs num_classes >= 1; got {num_classes}")
    return HEADS[cond](features, num_classes)


# --- spectral normalization ---------------------------------------------------------

SN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)
# Class-conditioning inside generators is left alone: normalizing the CBN gain table
# would undo its init at 1, and normalizing the label code would shrink it next to z.
SN_SKIP = (ClassBatchNorm2d, LabelConcat)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Linear/Conv/Embedding under `module` with spectral normalization
    (Miyato et al. 2018), in place. Call it after weight init: the parametrization
    keeps the initialized weight as `original` and divides it by its top singular value."""
    for child in module.children():
        if isinstance(child, SN_SKIP):
            continue
        if isinstance(child, SN_LAYERS):
            if not parametrize.is_parametrized(child, "weight"):
                spectral_norm(child)
        else:
            add_spectral_norm(child)
    return module
