"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

Sizes: square images of side 4*2^k or 7*2^k (k >= 1): 8, 14, 16, 28, 32, 56, 64, ...
The generator starts from a (width*2^(k-1)) x base x base grid and doubles the
resolution k times while halving the channels; the discriminator mirrors it.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.nets.base import Discriminator, Generator, check_dropout, square_image_layout
from gankit.nets.layers import ClassBatchNorm2d, add_spectral_norm, make_head
from gankit.nets.registry import register_discriminator, register_generator

BASES = (4, 7)  # 4 for 8/16/32/64-pixel images, 7 for 14/28 (MNIST)


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's init: conv/linear weights N(0, 0.02), BN gains N(1, 0.02), biases 0.

    Embeddings are left alone (the label code keeps N(0, 1) to match z; heads set their own).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register_generator("dcgan")
class DCGANGenerator(Generator):
    """z -> linear to (width*2^(k-1), base, base), BN, ReLU -> k ConvTranspose2d(4, 2, 1)
    upsamplings (BN + ReLU between them) -> tanh.

    Class-conditional (num_classes > 0): every BN takes its gain and bias from the class
    (conditional BN, as the SNGAN projection generators), and z stays the only input. Fed
    next to z instead, the label let the MNIST generator draw one image per class and
    ignore z within 500 steps, with an unconditional discriminator too.
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
        channels, self.base, k = square_image_layout(self.sample_shape, "dcgan", BASES, 1)
        width = 64 if width is None else width
        ch = self.start_channels = width * 2 ** (k - 1)
        # A linear map from z equals the paper's ConvTranspose on a 1x1 input; no bias before BN.
        self.project = nn.Linear(z_dim, ch * self.base**2, bias=False)
        # ClassBatchNorm2d is plain affine BN when num_classes is 0
        self.norms = nn.ModuleList([ClassBatchNorm2d(ch, num_classes)])
        self.ups = nn.ModuleList()
        for _ in range(k - 1):
            self.ups.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
            self.norms.append(ClassBatchNorm2d(ch // 2, num_classes))
            ch //= 2
        self.out = nn.ConvTranspose2d(ch, channels, 4, 2, 1)
        dcgan_init(self)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = self.check_inputs(z, y)
        h = self.norms[0](self.project(z).view(-1, self.start_channels, self.base, self.base), y).relu()
        for up, norm in zip(self.ups, self.norms[1:]):
            h = norm(up(h), y).relu()
        return self.out(h).tanh()


# GroupNorm with one group normalises each sample over (C, H, W): layer norm for conv maps.
NORMS = {"batch": nn.BatchNorm2d, "layer": lambda ch: nn.GroupNorm(1, ch), "none": None}


@register_discriminator("dcgan")
class DCGANDiscriminator(Discriminator):
    """k Conv2d(4, 2, 1) + LeakyReLU(0.2) layers doubling the channels, normalised on all
    but the first, flattened into the head.

    `norm` is "batch" (DCGAN; the default), "layer" (per-sample, as WGAN-GP's critic needs:
    its penalty is per sample, which BatchNorm's batch coupling breaks) or "none" (the
    default with spectral norm, as in SN-GANs).

    `dropout`, if given, drops the flattened features before the head.
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        cond: str = "none",
        width: int | None = None,
        spectral_norm: bool = False,
        dropout: float | None = None,
        norm: str | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cond)
        channels, base, k = square_image_layout(self.sample_shape, "dcgan", BASES, 1)
        width = 64 if width is None else width
        norm = norm or ("none" if spectral_norm else "batch")
        if norm not in NORMS:
            raise ValueError(f"dcgan discriminator norm must be one of {sorted(NORMS)}, got {norm!r}")
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(k - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"))
            if norm != "none":
                layers.append(NORMS[norm](ch * 2))
            layers.append(nn.LeakyReLU(0.2))
            ch *= 2
        layers.append(nn.Flatten())
        if dropout:
            layers.append(nn.Dropout(check_dropout(dropout)))
        self.body = nn.Sequential(*layers)
        # The head's linear over the (ch, base, base) map is the paper's final base x base conv.
        self.head = make_head(cond, ch * base**2, num_classes)
        dcgan_init(self)
        if spectral_norm:
            add_spectral_norm(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)
