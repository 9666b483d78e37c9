"""Memorization checks: a copying "generator" is flagged, a fresh one is not."""

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gankit.metrics.memorization import (
    CopyingResult,
    data_copying_test,
    fit_cells,
    nearest_neighbour_grid,
    nearest_neighbours,
    nn_distance_comparison,
)

_CENTRES = torch.randn(4, 5, generator=torch.Generator().manual_seed(123)) * 4


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mixture(n: int, g: torch.Generator) -> torch.Tensor:
    """A 4-component Gaussian mixture in 5-D: the 'true distribution' of these tests."""
    return _CENTRES[torch.randint(4, (n,), generator=g)] + torch.randn(n, 5, generator=g)


def _three_samples(seed: int):
    g = _gen(seed)
    return g, _mixture(1500, g), _mixture(800, g), _mixture(800, g)   # train, heldout, generated


def _copies(train: torch.Tensor, m: int, g: torch.Generator, noise: float) -> torch.Tensor:
    picked = train[torch.randperm(len(train), generator=g)[:m]]
    return picked + noise * torch.randn(picked.shape, generator=g)


# ---------------------------------------------------------------- nearest_neighbours

def test_nearest_neighbours_match_brute_force():
    g = _gen(0)
    q = torch.randn(37, 6, generator=g, dtype=torch.float64)
    r = torch.randn(101, 6, generator=g, dtype=torch.float64)
    d, i = nearest_neighbours(q, r, k=3, batch_size=7, ref_batch_size=11)
    full = torch.cdist(q, r, compute_mode="donot_use_mm_for_euclid_dist")
    ref_d, ref_i = torch.sort(full, dim=1)
    assert d.shape == (37, 3) and i.shape == (37, 3) and i.dtype == torch.int64
    assert torch.equal(i, ref_i[:, :3])
    assert_close(d, ref_d[:, :3])


def test_nearest_neighbours_float32_images():
    g = _gen(1)
    q = torch.rand(20, 1, 8, 8, generator=g) * 2 - 1
    r = torch.rand(300, 1, 8, 8, generator=g) * 2 - 1
    d, i = nearest_neighbours(q, r, k=2, batch_size=3, ref_batch_size=64)
    full = torch.cdist(q.flatten(1).double(), r.flatten(1).double(),
                       compute_mode="donot_use_mm_for_euclid_dist")
    ref_d, ref_i = torch.sort(full, dim=1)
    assert torch.equal(i, ref_i[:, :2])
    assert_close(d, ref_d[:, :2])           # exact distances after re-ranking
    # a query equal to a reference finds it at distance 0
    d0, i0 = nearest_neighbours(r[[5, 17]], r, k=1)
    assert i0[:, 0].tolist() == [5, 17] and d0.abs().max() == 0


def test_nearest_neighbours_bad_inputs():
    r = torch.rand(10, 4)
    with pytest.raises(ValueError, match="refs"):
        nearest_neighbours(torch.rand(3, 4), torch.rand(10, 5))
    with pytest.raises(ValueError, match="k"):
        nearest_neighbours(torch.rand(3, 4), r, k=11)
    with pytest.raises(ValueError, match="queries"):
        nearest_neighbours(torch.rand(4), r)
    with pytest.raises(ValueError, match="refs"):
        nearest_neighbours(torch.rand(3, 4), torch.rand(0, 4))


# ---------------------------------------------------------------- nn_distance_comparison

def test_nn_distances_flag_a_copying_generator():
    g, train, heldout, _ = _three_samples(0)
    copies = _copies(train, 800, g, noise=1e-3)
    report = nn_distance_comparison(copies, train, heldout)
    assert report["generated_median"] < 0.01 < 0.5 < report["heldout_median"]
    assert report["median_ratio"] < 0.05
    assert report["fraction_below_heldout_q05"] > 0.99
    assert report["p_value"] < 1e-10
    assert report["mannwhitney_u"] == 0.0     # every copy closer than every held-out point
    assert report["n_generated"] == 800 and report["n_heldout"] == 800


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nn_distances_pass_a_fresh_generator(seed):
    _, train, heldout, fresh = _three_samples(seed)
    report = nn_distance_comparison(fresh, train, heldout)
    assert 0.8 < report["median_ratio"] < 1.25
    assert report["fraction_below_heldout_q05"] < 0.12
    assert report["p_value"] > 1e-3 and report["p_value_two_sided"] > 1e-3
    q = report["generated_quantiles"]
    assert list(q) == ["q05", "q25", "q50", "q75", "q95"]
    assert q["q50"] == report["generated_median"]
    assert all(a <= b for a, b in zip(list(q.values()), list(q.values())[1:]))
    assert abs(report["mannwhitney_u"] / (800 * 800) - 0.5) < 0.06


def test_nn_distance_comparison_names_the_bad_argument():
    train = torch.rand(20, 3)
    with pytest.raises(ValueError, match="generated"):
        nn_distance_comparison(torch.rand(5, 4), train, torch.rand(5, 3))
    with pytest.raises(ValueError, match="heldout"):
        nn_distance_comparison(torch.rand(5, 3), train, torch.rand(5, 2))


# ---------------------------------------------------------------- data_copying_test

@pytest.mark.parametrize("noise", [0.0, 1e-3, 0.05])
def test_data_copying_test_flags_copies(noise):
    g, train, heldout, _ = _three_samples(3)
    copies = _copies(train, 800, g, noise)
    result = data_copying_test(train, heldout, copies, n_cells=8, seed=0)
    assert isinstance(result, CopyingResult)
    assert result.z_u < -8          # observed about -12 at every noise level
    used = list(result.cells_used)
    assert (result.cell_z[used] < -3).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_data_copying_test_passes_fresh_samples(seed):
    # train, held-out and generated are independent draws from one distribution:
    # the null of the test. Over 20 seeds |Z_U| stayed below 0.6.
    _, train, heldout, fresh = _three_samples(seed)
    result = data_copying_test(train, heldout, fresh, n_cells=8, seed=seed)
    assert abs(result.z_u) < 2


def test_data_copying_test_reuses_a_fitted_partition():
    _, train, heldout, fresh = _three_samples(0)
    cells = fit_cells(train, 8, seed=0)
    assert data_copying_test(train, heldout, fresh, n_cells=8, seed=0, cells=cells).z_u == \
        data_copying_test(train, heldout, fresh, n_cells=8, seed=0).z_u
    with pytest.raises(ValueError, match="cells"):
        data_copying_test(train, heldout, fresh, n_cells=5, cells=cells)


def test_data_copying_test_positive_when_underfitting():
    g, train, heldout, fresh = _three_samples(4)
    blurred = fresh + 1.5 * torch.randn(fresh.shape, generator=g)   # farther from train than real data
    assert data_copying_test(train, heldout, blurred, n_cells=8).z_u > 5   # 8.6 to 10 over 16 seeds


def test_data_copying_test_bookkeeping_and_hand_z():
    g, train, heldout, _ = _three_samples(5)
    copies = _copies(train, 800, g, noise=0.0)
    result = data_copying_test(train, heldout, copies, n_cells=6, seed=0, tau=0.05)
    assert result.tau == 0.05
    assert result.cell_z.shape == (6,) and result.heldout_mass.shape == (6,)
    assert int(result.generated_counts.sum()) == 800
    assert result.heldout_mass.sum().item() == pytest.approx(1.0)
    used = list(result.cells_used)
    assert all(result.generated_counts[c] / 800 > 0.05 for c in used)
    # aggregate = held-out-mass-weighted mean of the cell scores
    w = result.heldout_mass[used]
    assert result.z_u == pytest.approx(float((w * result.cell_z[used]).sum() / w.sum()))
    # exact copies: every generated distance is 0 < every held-out one, so U = 0 and
    # Z = -mn/2 / sqrt(mn(m+n+1)/12) = -sqrt(3mn / (m+n+1)) in each cell
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=6, random_state=0, n_init=1).fit(train.numpy())
    h_n = np.bincount(km.predict(heldout.numpy()), minlength=6)
    g_n = np.bincount(km.predict(copies.numpy()), minlength=6)
    for c in used:
        m, n = g_n[c], h_n[c]
        assert result.cell_z[c].item() == pytest.approx(-math.sqrt(3 * m * n / (m + n + 1)))


def test_data_copying_test_drops_thin_cells():
    # 30 generated points, all copies of one training point: only its cell can pass
    # tau = 20 / m, the other cells hold none.
    _, train, heldout, _ = _three_samples(6)
    copies = train[:1].repeat(30, 1)
    result = data_copying_test(train, heldout, copies, n_cells=5)
    assert len(result.cells_used) == 1
    c = result.cells_used[0]
    assert int(result.generated_counts[c]) == 30
    assert torch.isnan(result.cell_z[[i for i in range(5) if i != c]]).all()
    assert result.z_u == pytest.approx(result.cell_z[c].item())


def test_data_copying_test_bad_inputs():
    _, train, heldout, fresh = _three_samples(7)
    with pytest.raises(ValueError, match="generated"):
        data_copying_test(train, heldout, fresh[:, :3], n_cells=4)
    with pytest.raises(ValueError, match="heldout"):
        data_copying_test(train, heldout[:, :3], fresh, n_cells=4)
    with pytest.raises(ValueError, match="train"):
        data_copying_test(train[:3], heldout, fresh, n_cells=4)
    with pytest.raises(ValueError, match="heldout"):
        data_copying_test(train, heldout[:1], fresh, n_cells=4)
    with pytest.raises(ValueError, match="generated"):     # 15 points cannot exceed 20 in a cell
        data_copying_test(train, heldout, fresh[:15], n_cells=4)
    with pytest.raises(ValueError, match="tau"):
        data_copying_test(train, heldout, fresh, n_cells=4, tau=1.5)
    with pytest.raises(ValueError, match="n_cells"):
        data_copying_test(train, heldout, fresh, n_cells=0)


# ---------------------------------------------------------------- nearest_neighbour_grid

def test_nearest_neighbour_grid_layout():
    g = _gen(8)
    train = torch.rand(50, 1, 6, 6, generator=g) * 2 - 1
    generated = train[[7, 3, 40]] + 0.01
    grid = nearest_neighbour_grid(generated, train, n=3, k=4)
    assert grid.shape == (3 * 5, 1, 6, 6)
    rows = grid.reshape(3, 5, 1, 6, 6)
    assert torch.equal(rows[:, 0], generated)               # each row starts with the sample
    assert torch.equal(rows[:, 1], train[[7, 3, 40]])        # then its nearest training image
    _, idx = nearest_neighbours(generated, train, k=4)
    for r in range(3):
        assert torch.equal(rows[r, 1:], train[idx[r]])


def test_nearest_neighbour_grid_uint8_and_features():
    g = _gen(9)
    train_u8 = torch.randint(0, 256, (30, 1, 4, 4), generator=g, dtype=torch.uint8)
    train = train_u8.float() / 127.5 - 1
    generated = train[[2, 9]]
    grid = nearest_neighbour_grid(generated, train_u8, n=2, k=1)
    assert grid.min() >= -1 and grid.max() <= 1
    assert_close(grid[1], train[2]) and assert_close(grid[3], train[9])
    # search by features: a feature space where generated image 0 matches train 5
    gf = torch.zeros(2, 3)
    gf[1, 0] = 1.0
    tf = torch.full((30, 3), 10.0)
    tf[5] = 0.0
    tf[6] = torch.tensor([1.0, 0, 0])
    grid = nearest_neighbour_grid(generated, train, n=2, k=1, pixel=False,
                                  generated_features=gf, train_features=tf)
    assert torch.equal(grid[1], train[5]) and torch.equal(grid[3], train[6])


def test_nearest_neighbour_grid_bad_inputs():
    train = torch.rand(10, 1, 4, 4)
    with pytest.raises(ValueError, match="generated"):
        nearest_neighbour_grid(torch.rand(3, 16), train, n=2, k=1)
    with pytest.raises(ValueError, match="generated"):
        nearest_neighbour_grid(torch.rand(3, 1, 5, 5), train, n=2, k=1)
    with pytest.raises(ValueError, match="n"):
        nearest_neighbour_grid(torch.rand(3, 1, 4, 4), train, n=5, k=1)
    with pytest.raises(ValueError, match="generated_features"):
        nearest_neighbour_grid(torch.rand(3, 1, 4, 4), train, n=2, k=1, pixel=False)
