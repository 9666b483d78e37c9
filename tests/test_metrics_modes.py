"""Mode coverage on the ring8 and grid25 toy mixtures."""

import math

import pytest
import torch

from gankit.data import toy_modes, toy_std
from gankit.metrics.modes import ModeCoverage, mode_coverage

P_WITHIN_3_STD = 1 - math.exp(-4.5)   # chi distribution, 2 dof: P(r < 3) = 0.98889


def _mixture(name: str, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    modes = toy_modes(name)
    return modes[torch.randint(len(modes), (n,), generator=g)] + toy_std(name) * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("name,num_modes", [("ring8", 8), ("grid25", 25)])
def test_true_mixture_hits_every_mode(name, num_modes):
    n = 200_000
    result = mode_coverage(_mixture(name, n, seed=0), toy_modes(name), toy_std(name))
    assert isinstance(result, ModeCoverage)
    assert result.num_modes == num_modes and result.modes_hit == num_modes
    # standard error sqrt(p(1-p)/n) = 0.00023
    assert result.high_quality_fraction == pytest.approx(P_WITHIN_3_STD, abs=0.0012)
    counts = result.per_mode_counts
    assert counts.shape == (num_modes,) and counts.dtype == torch.int64
    assert int(counts.sum()) == round(result.high_quality_fraction * n)
    fair = n * P_WITHIN_3_STD / num_modes
    assert ((counts - fair).abs() < 6 * math.sqrt(fair)).all()


def test_dataset_loader_points_hit_every_mode():
    from gankit.data import load_dataset
    data = load_dataset("grid25", split="test", n=5000, seed=1)
    result = mode_coverage(data.x, toy_modes("grid25"), toy_std("grid25"))
    assert result.modes_hit == 25 and result.high_quality_fraction > 0.97


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_collapse_onto_one_mode(name):
    modes, std = toy_modes(name), toy_std(name)
    g = torch.Generator().manual_seed(1)
    samples = modes[3] + 0.5 * std * torch.randn(5000, 2, generator=g)
    result = mode_coverage(samples, modes, std)
    assert result.modes_hit == 1
    assert int(result.per_mode_counts[3]) == int(result.per_mode_counts.sum())
    assert result.high_quality_fraction > 0.99      # P(chi_2 < 6) = 1 - exp(-18)


def test_far_samples_are_not_high_quality():
    modes, std = toy_modes("ring8"), toy_std("ring8")
    samples = torch.tensor([[100.0, 100.0], [0.0, 0.0], [5.0, -5.0]])  # the ring's centre too
    result = mode_coverage(samples, modes, std)
    assert result.high_quality_fraction == 0.0 and result.modes_hit == 0
    assert int(result.per_mode_counts.sum()) == 0


def test_three_std_boundary_and_min_count_by_hand():
    modes = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    std = 0.5
    samples = torch.tensor([
        [1.49, 0.0],      # 2.98 std from mode 0: high quality
        [0.0, -1.2],      # 2.4 std from mode 0
        [10.0, 1.51],     # 3.02 std from mode 1: not
        [0.3, 9.6],       # 1 std from mode 2
    ])
    result = mode_coverage(samples, modes, std)
    assert result.per_mode_counts.tolist() == [2, 0, 1]
    assert result.modes_hit == 2 and result.high_quality_fraction == 0.75
    assert mode_coverage(samples, modes, std, min_count=2).modes_hit == 1
    assert mode_coverage(samples, modes, std, threshold=3.1).per_mode_counts.tolist() == [2, 1, 1]
    assert result.as_dict() == {"modes_hit": 2, "num_modes": 3, "high_quality_fraction": 0.75,
                                "per_mode_counts": [2, 0, 1]}


def test_bad_inputs_name_the_argument():
    modes = toy_modes("ring8")
    with pytest.raises(ValueError, match="samples"):
        mode_coverage(torch.rand(10, 3), modes, 0.02)
    with pytest.raises(ValueError, match="samples"):
        mode_coverage(torch.rand(0, 2), modes, 0.02)
    with pytest.raises(ValueError, match="modes"):
        mode_coverage(torch.rand(10, 2), modes.flatten(), 0.02)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(torch.rand(10, 2), modes, 0.0)
    with pytest.raises(ValueError, match="min_count"):
        mode_coverage(torch.rand(10, 2), modes, 0.02, min_count=0)
