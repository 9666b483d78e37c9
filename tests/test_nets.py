"""Invariants of every registered network pair, plus the paper-specific details."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.nets import (
    DISCRIMINATORS,
    GENERATORS,
    build_discriminator,
    build_generator,
    count_parameters,
    register_discriminator,
    register_generator,
)
from gankit.nets.layers import Maxout

Z_DIM = 16
B = 2
K = 3  # classes in the conditional tests

# Sample shapes tried per architecture; an arch missing here falls back to DEFAULT_SHAPES,
# so a newly registered arch is still exercised.
SHAPES: dict[str, list[tuple[int, ...]]] = {
    "mlp2014": [(1, 28, 28)],
    "mlp": [(2,), (1, 8, 8), (3, 8, 8)],
    "dcgan": [(c, s, s) for s in (8, 28, 32, 64) for c in (1, 3)],
    "resnet": [(1, 32, 32), (3, 32, 32), (3, 16, 16), (1, 28, 28)],
}
DEFAULT_SHAPES = [(1, 28, 28), (3, 32, 32)]
# Small widths keep the suite fast; shapes and logic do not depend on width.
SMALL_WIDTH = {"mlp2014": 32, "mlp": 32, "dcgan": 8, "resnet": 16}


def shapes(arch: str) -> list[tuple[int, ...]]:
    return SHAPES.get(arch, DEFAULT_SHAPES)


def cases() -> list:
    return [
        pytest.param(arch, shape, id=f"{arch}-{'x'.join(map(str, shape))}")
        for arch in sorted(GENERATORS)
        for shape in shapes(arch)
    ]


def make_pair(arch: str, shape: tuple[int, ...], width: int | None = None, **d_kwargs):
    g_kwargs = {k: d_kwargs[k] for k in ("num_classes", "spectral_norm") if k in d_kwargs}
    G = build_generator(arch, z_dim=Z_DIM, sample_shape=shape, width=width, **g_kwargs)
    D = build_discriminator(arch, sample_shape=shape, width=width, **d_kwargs)
    return G, D


def labels(n: int = B) -> torch.Tensor:
    return torch.arange(n) % K


def test_every_generator_has_a_discriminator():
    assert sorted(GENERATORS) == sorted(DISCRIMINATORS)
    assert {"mlp2014", "mlp", "dcgan", "resnet"} <= set(GENERATORS)


@pytest.mark.parametrize("arch,shape", cases())
def test_shapes_range_and_finiteness(arch, shape):
    torch.manual_seed(0)
    G, D = make_pair(arch, shape)  # published default widths
    assert (G.z_dim, G.num_classes, G.sample_shape) == (Z_DIM, 0, shape)
    assert (D.num_classes, D.cond) == (0, "none")
    with torch.no_grad():
        x = G(torch.randn(B, Z_DIM))
        out = D(x)
    assert x.shape == (B, *shape)
    if len(shape) > 1:  # images; the mlp's 1-D point output is linear by design
        assert x.min() >= -1 and x.max() <= 1
    assert out.shape == (B,)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_unconditional_nets_ignore_labels(arch):
    G, D = make_pair(arch, shapes(arch)[-1], width=SMALL_WIDTH.get(arch))
    G.eval(), D.eval()  # no dropout noise
    z = torch.randn(B, Z_DIM)
    with torch.no_grad():
        x = G(z)
        torch.testing.assert_close(G(z, labels()), x)
        torch.testing.assert_close(D(x, labels()), D(x))


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_conditional_generator(arch):
    shape = shapes(arch)[-1]
    G = build_generator(arch, z_dim=Z_DIM, sample_shape=shape, num_classes=K, width=SMALL_WIDTH.get(arch))
    z = torch.randn(B, Z_DIM)
    assert G(z, labels()).shape == (B, *shape)
    with pytest.raises(ValueError, match="needs labels"):
        G(z)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        G(z, torch.tensor([0, K]))
    with pytest.raises(ValueError, match="integer"):
        G(z, torch.zeros(B))


def test_conditional_dcgan_generator_takes_the_class_through_batch_norm():
    # z stays the only input (a label fed next to z let MNIST generators ignore z); each
    # class owns its BN gain and bias, so changing class 1's moves class 1's images alone.
    G = build_generator("dcgan", z_dim=Z_DIM, sample_shape=(1, 28, 28), num_classes=K, width=8).eval()
    assert G.project.in_features == Z_DIM
    z, y = torch.randn(4, Z_DIM), torch.tensor([0, 0, 1, 1])
    with torch.no_grad():
        before = G(z, y)
        G.norms[0].bias.weight[1] += 1.0
        after = G(z, y)
    torch.testing.assert_close(after[:2], before[:2])
    assert (after[2:] - before[2:]).abs().max() > 1e-3


@pytest.mark.parametrize("arch", sorted(DISCRIMINATORS))
def test_projection_discriminator(arch):
    shape = shapes(arch)[-1]
    D = build_discriminator(
        arch, sample_shape=shape, num_classes=K, cond="projection", width=SMALL_WIDTH.get(arch)
    )
    x = torch.rand(B, *shape) * 2 - 1
    out = D(x, labels())
    assert out.shape == (B,) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="needs labels"):
        D(x)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        D(x, torch.tensor([-1, 0]))
    # The class term changes the logit: different labels, different outputs.
    D.eval()
    with torch.no_grad():
        assert not torch.allclose(
            D(x, torch.zeros(B, dtype=torch.long)), D(x, torch.ones(B, dtype=torch.long))
        )


@pytest.mark.parametrize("arch", sorted(DISCRIMINATORS))
def test_ac_discriminator(arch):
    shape = shapes(arch)[-1]
    D = build_discriminator(arch, sample_shape=shape, num_classes=K, cond="ac", width=SMALL_WIDTH.get(arch))
    adv, cls = D(torch.rand(B, *shape) * 2 - 1)
    assert adv.shape == (B,) and cls.shape == (B, K)


def test_bad_cond_and_missing_classes():
    with pytest.raises(ValueError, match="projection"):
        build_discriminator("mlp", sample_shape=(2,), cond="bogus")
    with pytest.raises(ValueError, match="num_classes"):
        build_discriminator("mlp", sample_shape=(2,), cond="ac")


def test_wrong_input_shapes():
    G, D = make_pair("mlp", (2,))
    with pytest.raises(ValueError, match=r"\(B, 16\)"):
        G(torch.randn(B, Z_DIM + 1))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        D(torch.randn(B, 3))


@pytest.mark.parametrize("arch", sorted(DISCRIMINATORS))
def test_spectral_norm_wraps_every_layer(arch):
    shape = shapes(arch)[-1]
    D = build_discriminator(
        arch,
        sample_shape=shape,
        num_classes=K,
        cond="projection",
        spectral_norm=True,
        width=SMALL_WIDTH.get(arch),
    )
    weighted = [m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_spectral_norm_bounds_the_top_singular_value():
    torch.manual_seed(0)
    D = build_discriminator("dcgan", sample_shape=(1, 28, 28), width=8, spectral_norm=True)
    D.train()
    x = torch.randn(4, 1, 28, 28)
    for _ in range(5):  # each train-mode forward runs one power iteration
        D(x)
    conv = D.body[2]
    w = conv.weight.detach().flatten(1)  # (out, in*kh*kw), as torch's spectral norm reshapes it
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.02)
    # The unnormalized weight is far from norm 1, so the check is not vacuous.
    raw = conv.parametrizations.weight.original.detach().flatten(1)
    assert abs(torch.linalg.matrix_norm(raw, ord=2).item() - 1.0) > 0.1


def test_generator_spectral_norm_spares_class_batchnorm():
    G = build_generator(
        "resnet", z_dim=Z_DIM, sample_shape=(3, 16, 16), num_classes=K, width=8, spectral_norm=True
    )
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    assert all(parametrize.is_parametrized(m, "weight") for m in convs)
    gains = G.blocks[0].bn1.gain
    assert not parametrize.is_parametrized(gains, "weight")
    assert torch.equal(gains.weight, torch.ones_like(gains.weight))


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_state_dict_round_trip_with_spectral_norm(arch):
    shape = shapes(arch)[-1]
    kwargs = {"num_classes": K, "cond": "projection", "spectral_norm": True, "width": SMALL_WIDTH.get(arch)}
    torch.manual_seed(0)
    G, D = make_pair(arch, shape, **kwargs)
    z, y = torch.randn(B, Z_DIM), labels()
    G.train(), D.train()
    D(G(z, y), y)  # a train step moves BN statistics and the power-iteration vectors
    torch.manual_seed(1)
    G2, D2 = make_pair(arch, shape, **kwargs)
    G2.load_state_dict(G.state_dict())
    D2.load_state_dict(D.state_dict())
    for net in (G, D, G2, D2):
        net.eval()
    with torch.no_grad():
        x = G(z, y)
        torch.testing.assert_close(G2(z, y), x, rtol=0, atol=0)
        torch.testing.assert_close(D2(x, y), D(x, y), rtol=0, atol=0)


def test_mlp2014_matches_the_paper_layer_sizes():
    G = build_generator("mlp2014", z_dim=100, sample_shape=(1, 28, 28))
    D = build_discriminator("mlp2014", sample_shape=(1, 28, 28))
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces) for m in maxouts] == [(240, 5), (240, 5)]
    # D: 784 -> maxout 240x5 -> maxout 240x5 -> 1 (weights + biases).
    d_expected = (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    assert count_parameters(D) == d_expected == 1_231_441
    # G: 100 -> 1200 -> 1200 -> 784.
    g_expected = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    assert count_parameters(G) == g_expected == 2_503_984
    drops = [m.p for m in D.modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5]
    D2 = build_discriminator("mlp2014", sample_shape=(1, 28, 28), dropout=0.3)
    assert [m.p for m in D2.modules() if isinstance(m, nn.Dropout)] == [0.2, 0.3, 0.3]


def test_mlp2014_output_bias_init_reproduces_the_mean():
    G = build_generator("mlp2014", z_dim=4, sample_shape=(1, 2, 2))
    mean = torch.tensor([-0.5, 0.0, 0.5, 0.9]).view(1, 2, 2)
    G.init_output_bias(mean)
    nn.init.zeros_(G.net[-1].weight)
    torch.testing.assert_close(G(torch.randn(3, 4)), mean.expand(3, 1, 2, 2))


def test_maxout_takes_the_max_over_pieces():
    m = Maxout(1, units=2, pieces=3)
    with torch.no_grad():
        m.linear.weight.copy_(torch.tensor([[1.0], [2.0], [3.0], [-1.0], [-2.0], [-3.0]]))
        m.linear.bias.zero_()
    torch.testing.assert_close(m(torch.tensor([[1.0], [-1.0]])), torch.tensor([[3.0, -1.0], [-1.0, 3.0]]))


@pytest.mark.parametrize("arch", sorted(GENERATORS))
def test_gradients_flow_from_d_to_g(arch):
    shape = shapes(arch)[-1]
    torch.manual_seed(0)
    G, D = make_pair(arch, shape, width=SMALL_WIDTH.get(arch))
    D(G(torch.randn(4, Z_DIM))).mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None, name
    assert sum(p.grad.abs().sum() for p in G.parameters()) > 0


def test_dcgan_default_layout_and_init():
    G, D = make_pair("dcgan", (3, 64, 64))
    # Radford et al.: 512 channels at 4x4, halving up to 64 at 32x32.
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.in_channels for m in convs] == [512, 256, 128, 64]
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512]
    w = torch.cat([m.weight.flatten() for m in convs])
    assert w.std().item() == pytest.approx(0.02, rel=0.05)


def test_bad_sizes_name_the_size():
    with pytest.raises(ValueError, match="30x30") as info:
        build_generator("dcgan", z_dim=Z_DIM, sample_shape=(1, 30, 30))
    assert "28" in str(info.value) and "32" in str(info.value)
    with pytest.raises(ValueError, match="30x30"):
        build_discriminator("dcgan", sample_shape=(1, 30, 30))
    with pytest.raises(ValueError, match="8x8"):
        build_discriminator("resnet", sample_shape=(3, 8, 8))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        build_generator("dcgan", z_dim=Z_DIM, sample_shape=(2,))


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(ValueError, match="nope") as info:
        build_generator("nope", z_dim=Z_DIM, sample_shape=(2,))
    assert all(name in str(info.value) for name in GENERATORS)
    with pytest.raises(ValueError, match="dcgan"):
        build_discriminator("nope", sample_shape=(2,))


def test_duplicate_registration_raises():
    before_g, before_d = dict(GENERATORS), dict(DISCRIMINATORS)
    with pytest.raises(ValueError, match="already registered"):
        register_generator("mlp")(type("Other", (nn.Module,), {}))
    with pytest.raises(ValueError, match="already registered"):
        register_discriminator("dcgan")(type("Other", (nn.Module,), {}))
    assert GENERATORS == before_g and DISCRIMINATORS == before_d
