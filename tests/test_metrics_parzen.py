"""Parzen-window log-likelihood against hand computations and known Gaussians."""

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gankit.metrics.parzen import (
    DEFAULT_SIGMAS,
    ParzenResult,
    parzen_evaluate,
    parzen_log_likelihood,
    select_sigma,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _direct(samples: torch.Tensor, data: torch.Tensor, sigma: float) -> torch.Tensor:
    """Unbatched float64 reference: explicit differences, one logsumexp."""
    s = samples.double().reshape(len(samples), -1)
    x = data.double().reshape(len(data), -1)
    d2 = (x[:, None, :] - s[None, :, :]).square().sum(-1)
    d = s.shape[1]
    return (torch.logsumexp(-d2 / (2 * sigma**2), dim=1) - math.log(len(s))
            - 0.5 * d * math.log(2 * math.pi * sigma**2))


def test_default_grid_is_the_original_scripts():
    # parzen_ll.py: numpy.logspace(sigma_start=-1, sigma_end=0, num=cross_val=10)
    assert_close(torch.tensor(DEFAULT_SIGMAS, dtype=torch.float64), torch.from_numpy(np.logspace(-1, 0, 10)))


def test_single_sample_is_one_gaussian_by_hand():
    s1 = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    x = torch.tensor([[0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    sigma = 0.7
    # log N(x; s1, sigma^2 I) = -||x - s1||^2 / (2 sigma^2) - (3/2) log(2 pi sigma^2)
    sq = [0.25 + 1.0 + 4.0, 0.0, 0.25 + 4.0 + 1.0]
    expected = torch.tensor([-q / (2 * sigma**2) - 1.5 * math.log(2 * math.pi * sigma**2) for q in sq],
                            dtype=torch.float64)
    assert_close(parzen_log_likelihood(s1, x, sigma), expected)


def test_images_are_flattened():
    g = _gen(0)
    s = torch.rand(9, 1, 4, 4, generator=g, dtype=torch.float64)
    x = torch.rand(5, 1, 4, 4, generator=g, dtype=torch.float64)
    assert_close(parzen_log_likelihood(s, x, 0.3), parzen_log_likelihood(s.flatten(1), x.flatten(1), 0.3))
    assert_close(parzen_log_likelihood(s, x, 0.3), _direct(s, x, 0.3))


@pytest.mark.parametrize("batch_size,sample_batch_size", [(1, 1), (7, 13), (5, 50), (23, 3)])
def test_batched_equals_direct(batch_size, sample_batch_size):
    g = _gen(1)
    s = torch.rand(50, 5, generator=g, dtype=torch.float64)
    x = torch.rand(23, 5, generator=g, dtype=torch.float64)
    for sigma in (0.05, 0.2, 1.0):   # 0.05: terms near exp(-100), logsumexp must be stable
        got = parzen_log_likelihood(s, x, sigma, batch_size, sample_batch_size=sample_batch_size)
        assert got.dtype == torch.float64 and got.shape == (23,)
        assert_close(got, _direct(s, x, sigma))


def test_float32_inputs_close_to_float64_reference():
    # The working precision of the protocol (784-D pixels in [0, 1]).
    g = _gen(2)
    s = torch.rand(300, 784, generator=g)
    x = torch.rand(41, 784, generator=g)
    for sigma in (0.1, 0.3):
        got = parzen_log_likelihood(s, x, sigma, 8, sample_batch_size=77)
        assert_close(got, _direct(s, x, sigma), rtol=1e-5, atol=5e-3)


def test_approaches_true_gaussian_log_density():
    # Samples and data from N(0, I_2); with many samples and a small sigma the Parzen
    # estimate approaches the true log-density. Expected mean: -D/2 log(2 pi) - D/2.
    g = _gen(3)
    s = torch.randn(20000, 2, generator=g, dtype=torch.float64)
    x = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    ll = parzen_log_likelihood(s, x, 0.1)
    true_ll = -math.log(2 * math.pi) - 0.5 * x.square().sum(1)
    assert abs(ll.mean().item() - true_ll.mean().item()) < 0.04   # same points: bias only
    # against the expectation: the data's own sampling error (se 0.018) comes in too
    assert abs(ll.mean().item() - (-math.log(2 * math.pi) - 1.0)) < 0.07


def test_approaches_true_log_density_1d_scaled():
    # N(0, s^2), s = 0.3: expected log-density -1/2 log(2 pi s^2) - 1/2.
    g = _gen(4)
    s = 0.3 * torch.randn(20000, 1, generator=g, dtype=torch.float64)
    x = 0.3 * torch.randn(3000, 1, generator=g, dtype=torch.float64)
    ll = parzen_log_likelihood(s, x, 0.02)
    expected = -0.5 * math.log(2 * math.pi * 0.09) - 0.5
    assert abs(ll.mean().item() - expected) < 0.05     # data's sampling error: se 0.013


@pytest.mark.parametrize("seed", [0, 1])
def test_select_sigma_is_argmax_and_table_unimodal(seed):
    g = _gen(10 + seed)
    s = 0.3 * torch.randn(2000, 1, generator=g, dtype=torch.float64)
    v = 0.3 * torch.randn(1000, 1, generator=g, dtype=torch.float64)
    grid = np.logspace(-3, 0.5, 15)
    best, table = select_sigma(s, v, grid)
    assert list(table) == [float(x) for x in grid]
    values = list(table.values())
    i = int(np.argmax(values))
    assert best == float(grid[i])
    assert 0 < i < len(grid) - 1                      # an interior optimum: both ends are worse
    assert all(a < b for a, b in zip(values[:i], values[1:i + 1]))        # rising up to the best
    assert all(a > b for a, b in zip(values[i:-1], values[i + 1:]))       # falling after it
    # near Silverman's rule for a Gaussian, 1.06 * 0.3 * 2000^(-1/5) = 0.070
    assert 0.07 / 3 < best < 0.07 * 3
    # table entries are the mean validation log-likelihood at each sigma
    assert table[best] == pytest.approx(parzen_log_likelihood(s, v, best).mean().item())


def test_select_sigma_default_grid():
    g = _gen(5)
    s = torch.rand(200, 4, generator=g)
    v = torch.rand(50, 4, generator=g)
    best, table = select_sigma(s, v)
    assert tuple(table) == DEFAULT_SIGMAS
    assert best == max(table, key=table.get)


def test_parzen_evaluate_reports_mean_and_standard_error():
    g = _gen(6)
    s = torch.rand(400, 6, generator=g, dtype=torch.float64)
    v = torch.rand(100, 6, generator=g, dtype=torch.float64)
    t = torch.rand(150, 6, generator=g, dtype=torch.float64)
    grid = [0.05, 0.1, 0.2, 0.4]
    result = parzen_evaluate(s, v, t, grid, batch_size=17, sample_batch_size=33)
    assert isinstance(result, ParzenResult)
    best, table = select_sigma(s, v, grid)
    assert result.sigma == best and result.sigma_table == pytest.approx(table)
    ll = _direct(s, t, best)
    assert result.mean == pytest.approx(ll.mean().item())
    assert result.std_error == pytest.approx(ll.numpy().std() / math.sqrt(150))   # numpy std, ddof 0


def test_bad_inputs_name_the_argument():
    s = torch.rand(10, 3)
    with pytest.raises(ValueError, match="data"):
        parzen_log_likelihood(s, torch.rand(4, 2), 0.1)
    with pytest.raises(ValueError, match="samples"):
        parzen_log_likelihood(torch.rand(10), torch.rand(4, 1), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        parzen_log_likelihood(s, torch.rand(4, 3), 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        parzen_log_likelihood(s, torch.rand(4, 3), 0.1, batch_size=0)
    with pytest.raises(ValueError, match="validation"):
        select_sigma(s, torch.rand(4, 5))
    with pytest.raises(ValueError, match="sigmas"):
        select_sigma(s, torch.rand(4, 3), [0.1, -1.0])
    with pytest.raises(ValueError, match="test"):
        parzen_evaluate(s, torch.rand(4, 3), torch.rand(4, 2), [0.1])
    with pytest.raises(ValueError, match="samples"):
        parzen_log_likelihood(torch.full((3, 3), float("nan")), torch.rand(4, 3), 0.1)
