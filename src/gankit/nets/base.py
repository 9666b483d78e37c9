"""What every generator and discriminator shares: the attributes other code reads
and the input checks, so each architecture only builds its layers."""

from __future__ import annotations

from torch import Tensor, nn

from gankit.nets.layers import HEADS, Head, check_labels


def as_shape(sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """`sample_shape` as a tuple of positive ints, or a ValueError."""
    shape = tuple(int(s) for s in sample_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"sample_shape must be a non-empty tuple of positive sizes; got {sample_shape}")
    return shape


def check_dropout(p: float, what: str = "dropout") -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{what} must be in [0, 1); got {p}")
    return float(p)


class Generator(nn.Module):
    """Base of all generators: forward(z, y=None) -> (B, *sample_shape).

    Conditional generators (num_classes > 0) need int labels y of shape (B,);
    unconditional ones ignore y.
    """

    def __init__(self, z_dim: int, sample_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        if z_dim < 1:
            raise ValueError(f"z_dim must be >= 1; got {z_dim}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0 = unconditional); got {num_classes}")
        self.z_dim = int(z_dim)
        self.sample_shape = as_shape(sample_shape)
        self.num_classes = int(num_classes)

    def check_inputs(self, z: Tensor, y: Tensor | None) -> Tensor | None:
        """Check z's shape; return the checked labels (None when unconditional)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}); got {tuple(z.shape)}")
        if self.num_classes == 0:
            return None
        return check_labels(y, self.num_classes, z.shape[0])


class Discriminator(nn.Module):
    """Base of all discriminators: a feature body x -> h (B, F) plus a shared head.

    Subclasses implement `features` and set `self.head = make_head(cond, F, num_classes)`.
    forward returns adversarial logits (B,), or (logits, class_logits) when cond="ac".
    """

    head: Head

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int, cond: str) -> None:
        super().__init__()
        if cond not in HEADS:
            raise ValueError(f"unknown discriminator cond {cond!r}; known: {', '.join(HEADS)}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0; got {num_classes}")
        self.sample_shape = as_shape(sample_shape)
        self.num_classes = int(num_classes)
        self.cond = cond

    def features(self, x: Tensor) -> Tensor:
        """The penultimate features h (B, F) the head reads (also useful for feature matching)."""
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        if tuple(x.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"x must have shape (B, {', '.join(map(str, self.sample_shape))}); got {tuple(x.shape)}"
            )
        return self.head(self.features(x), y)


def square_image_layout(
    sample_shape: tuple[int, ...], arch: str, bases: tuple[int, ...], min_doublings: int
) -> tuple[int, int, int]:
    """(channels, base, k) for a square image of size base * 2**k with k >= min_doublings.

    Convolutional nets grow (or shrink) the image by factors of 2 from a small base
    grid, so only those sizes work; anything else gets a ValueError naming the size.
    """
    sizes = sorted(b * 2**k for b in bases for k in range(min_doublings, min_doublings + 5))
    sides = " or ".join(f"{b}*2^k" for b in bases)
    examples = ", ".join(map(str, sizes[:6]))
    supported = f"square images of side {sides} with k >= {min_doublings} ({examples}, ...)"
    if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
        raise ValueError(f"{arch} needs {supported} as (C, H, W); got sample_shape {tuple(sample_shape)}")
    size = sample_shape[1]
    for base in bases:
        k, side = 0, size
        while side > base and side % 2 == 0:
            side, k = side // 2, k + 1
        if side == base and k >= min_doublings:
            return sample_shape[0], base, k
    raise ValueError(f"{arch} supports {supported}; got image size {size}x{size}")
