"""Sample-quality metrics against values computed by hand on tiny inputs."""

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics import (
    QualityReport,
    class_histogram,
    classifier_score,
    density_coverage,
    feature_stats,
    fid,
    frechet_distance,
    kid,
    precision_recall,
    quality_report,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # The inputs here are tiny: a second intra-op thread only adds scheduling
    # overhead, which becomes seconds when the machine's cores are busy.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _col(*values) -> torch.Tensor:
    """1-D points as an (N, 1) feature tensor."""
    return torch.tensor(values, dtype=torch.float64)[:, None]


# --- FID ---------------------------------------------------------------------------

def test_feature_stats_match_numpy():
    x = torch.randn(50, 3, generator=_gen(0), dtype=torch.float64)
    mu, sigma = feature_stats(x)
    np.testing.assert_allclose(mu.numpy(), x.numpy().mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-12)


def test_fid_identical_sets_is_zero():
    scale = 10.0
    x = scale * torch.randn(300, 16, generator=_gen(1))
    assert abs(fid(x, x)) < 1e-6 * scale**2
    assert abs(fid(x, x.clone())) < 1e-6 * scale**2


def test_frechet_distance_diagonal_closed_form():
    mu1 = torch.tensor([0.0, 1.0, -2.0, 0.5])
    mu2 = torch.tensor([1.0, 1.0, 0.0, 0.5])
    s1 = torch.tensor([1.0, 4.0, 0.25, 2.0])
    s2 = torch.tensor([4.0, 1.0, 0.25, 0.5])
    # ||mu1 - mu2||^2 + sum_i (s1_i + s2_i - 2 sqrt(s1_i s2_i))
    expected = (1 + 0 + 4 + 0) + (1 + 1 + 0 + 0.5)  # sqrt terms: 2, 2, 0.25, 1
    got = frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_on_samples_approaches_closed_form():
    n, g = 20_000, _gen(2)
    mu1, mu2 = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.0, 0.0, 0.5])
    sd1, sd2 = torch.tensor([1.0, 1.0, 2.0]), torch.tensor([2.0, 1.0, 1.0])
    real = mu1 + sd1 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    fake = mu2 + sd2 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    expected = (1 + 0.25) + ((1 - 2) ** 2 + 0 + (2 - 1) ** 2)  # ||dmu||^2 + sum (sd1 - sd2)^2
    # Sampling error of the means and covariances is O(1/sqrt(n)) ~ 0.01 here.
    assert fid(real, fake) == pytest.approx(expected, abs=0.08)


def test_frechet_distance_non_diagonal_matches_scipy_sqrtm():
    g = _gen(3)
    d = 6
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    b = torch.randn(d, d, generator=g, dtype=torch.float64)
    s1 = a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)
    s2 = b @ b.T + 0.1 * torch.eye(d, dtype=torch.float64)
    mu1 = torch.randn(d, generator=g, dtype=torch.float64)
    mu2 = torch.randn(d, generator=g, dtype=torch.float64)
    covmean = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy())
    expected = float(
        ((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * np.trace(covmean).real
    )
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_singular_covariance_stays_exact():
    # Rank-1 covariance (as with fewer samples than dimensions): the distance of a
    # Gaussian to itself is 0 and only the mean shift remains.
    v = torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    s = torch.outer(v, v)
    mu = torch.zeros(4, dtype=torch.float64)
    shift = torch.tensor([0.0, 3.0, 0.0, 4.0], dtype=torch.float64)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-10)
    assert frechet_distance(mu, s, mu + shift, s) == pytest.approx(25.0, rel=1e-10)


def test_fid_matches_torchmetrics_with_identity_features():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 8

        def forward(self, x):
            return x

    g = _gen(4)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    fake = 0.5 + 1.5 * torch.randn(300, 8, generator=g, dtype=torch.float64) @ torch.randn(
        8, 8, generator=g, dtype=torch.float64
    )
    metric = FrechetInceptionDistance(feature=Identity())
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert fid(real, fake) == pytest.approx(float(metric.compute()), rel=1e-6)


# --- KID ---------------------------------------------------------------------------

def test_kid_three_point_example_by_hand():
    # k(x, y) = (x y / 1 + 1)^3 in 1-D. X = {0, 1, -1}, Y = {0, 1, 2}.
    # sum_{i!=j} k(x_i, x_j) = 2 (1 + 1 + 0) = 4     -> 4 / 6
    # sum_{i!=j} k(y_i, y_j) = 2 (1 + 1 + 27) = 58   -> 58 / 6
    # sum_{i,j} k(x_i, y_j)  = 3 + 36 + 0 = 39       -> 2 * 39 / 9
    expected = 4 / 6 + 58 / 6 - 78 / 9  # = 5/3
    # subset_size is capped at 3, so every subset is the whole set (reordered).
    mean, std = kid(_col(0, 1, -1), _col(0, 1, 2), subsets=3, subset_size=10)
    assert mean == pytest.approx(expected, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_separates_different_distributions_and_is_near_zero_for_equal_ones():
    g = _gen(5)
    a = torch.randn(400, 8, generator=g)
    b = torch.randn(400, 8, generator=g)  # same distribution as a
    c = torch.randn(400, 8, generator=g) + 1.0  # shifted
    same = kid(a, b, subsets=20, subset_size=200)
    diff = kid(a, c, subsets=20, subset_size=200)
    assert diff.mean > 0.5 and diff.mean > 10 * diff.std
    assert abs(same.mean) < 0.02 * diff.mean
    ident = kid(a, a, subsets=20, subset_size=200)
    assert abs(ident.mean) < 0.02 * diff.mean


def test_kid_is_reproducible_from_seed():
    g = _gen(6)
    a, b = torch.randn(100, 4, generator=g), torch.randn(120, 4, generator=g)
    assert kid(a, b, subsets=5, subset_size=50, seed=1) == kid(a, b, subsets=5, subset_size=50, seed=1)
    assert kid(a, b, subsets=5, subset_size=50, seed=1) != kid(a, b, subsets=5, subset_size=50, seed=2)


# --- classifier score --------------------------------------------------------------

def test_classifier_score_confident_and_spread_gives_k():
    k = 4
    probs = torch.nn.functional.one_hot(torch.arange(40) % k, k).double()
    mean, std = classifier_score(probs, splits=10)  # every split holds each class once
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_classifier_score_identical_predictions_give_one():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4]]).repeat(20, 1)
    assert classifier_score(probs, splits=5).mean == pytest.approx(1.0, abs=1e-12)


def test_classifier_score_by_hand():
    # p(y) = (0.75, 0.25); KL rows: log(4/3) and 0.5 log(2/3) + 0.5 log 2 = 0.5 log(4/3).
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    mean, _ = classifier_score(probs, splits=1)
    assert mean == pytest.approx((4 / 3) ** 0.75, rel=1e-12)


# --- precision / recall, density / coverage ---------------------------------------

REAL = _col(0, 1, 2, 3)


def test_precision_recall_by_hand():
    # k = 1: every real radius is 1. Fake {0.5, 1.5, 10, 12}: radii 1, 1, 2, 2.
    # precision: 0.5 and 1.5 lie within 1 of a real point; 10 and 12 do not -> 2/4.
    # recall: 0, 1, 2 lie within 1 of 0.5 or 1.5; 3 is 1.5 from 1.5, 7 from 10 -> 3/4.
    p, r = precision_recall(REAL, _col(0.5, 1.5, 10, 12), k=1)
    assert (p, r) == (0.5, 0.75)


def test_balls_are_closed():
    # Fake 4 is exactly at distance 1 = radius of real 3 (k = 1): it counts as inside.
    # Fake radii (k = 1) are 0.5, so no real point lies in a fake ball.
    assert precision_recall(REAL, _col(4, 4.5), k=1) == (0.5, 0.0)


def test_density_coverage_by_hand():
    # k = 2 on {0, 1, 2, 3}: radii (2nd neighbour) are 2, 1, 1, 2.
    # fake 0.5 is in the balls of 0 and 1; fake 0.8 too; 10 and 12 in none
    # -> density = (2 + 2) / (k M) = 4 / 8.
    # coverage: balls of 0 and 1 hold a fake; 2 (nearest fake 1.2 > 1) and 3 (2.2 > 2) do not.
    d, c = density_coverage(REAL, _col(0.5, 0.8, 10, 12), k=2)
    assert d == pytest.approx(0.5, rel=1e-12)
    assert c == 0.5


def test_knn_excludes_the_point_itself_and_counts_duplicates():
    # Real {0, 0, 5}: with k = 1 the radius of each 0 is 0 (its duplicate), of 5 is 5.
    # Fake 0 is inside (closed ball of radius 0), -0.1 is not (it would be if the
    # zeros' radius were 5), 9 is within 5 of 5.
    p, _ = precision_recall(_col(0, 0, 5), _col(0, -0.1, 9), k=1)
    assert p == pytest.approx(2 / 3)


def test_identical_sets_2d():
    x = torch.randn(200, 2, generator=_gen(7))
    p, r = precision_recall(x, x, k=3)
    assert (p, r) == (1.0, 1.0)
    k = 5
    d, c = density_coverage(x, x, k=k)
    assert c == 1.0
    # Each real ball holds its own centre plus its k neighbours: k + 1 fakes.
    assert d == pytest.approx((k + 1) / k)


def test_density_of_an_independent_sample_is_about_one():
    g = _gen(8)
    real = torch.randn(2000, 2, generator=g)
    fake = torch.randn(2000, 2, generator=g)
    d, c = density_coverage(real, fake, k=5)
    assert d == pytest.approx(1.0, abs=0.1)
    assert c > 0.9


def test_far_away_fakes_score_zero():
    x = torch.randn(100, 3, generator=_gen(9))
    far = x + 1000.0
    assert precision_recall(x, far, k=3) == (0.0, 0.0)
    assert density_coverage(x, far, k=5) == (0.0, 0.0)


def test_chunked_pass_matches_full_matrix(monkeypatch):
    import gankit.metrics.quality as q

    g = _gen(10)
    real, fake = torch.randn(60, 3, generator=g), torch.randn(50, 3, generator=g)
    full = (precision_recall(real, fake, k=3), density_coverage(real, fake, k=5))
    monkeypatch.setattr(q, "_BLOCK_ELEMENTS", 7 * 60)  # 7-row chunks
    assert (precision_recall(real, fake, k=3), density_coverage(real, fake, k=5)) == full


# --- class histogram ---------------------------------------------------------------

def test_class_histogram_uniform_single_and_by_hand():
    h = class_histogram(torch.arange(12) % 4, num_classes=4)
    assert h.fractions.tolist() == [0.25] * 4
    assert h.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    assert class_histogram(torch.zeros(10, dtype=torch.long), 4).kl_to_uniform == pytest.approx(math.log(4))
    # {0, 0, 1, 1} over 4 classes: 2 * 0.5 log(0.5 * 4) = log 2.
    assert class_histogram(torch.tensor([0, 0, 1, 1]), 4).kl_to_uniform == pytest.approx(math.log(2))


def test_class_histogram_accepts_probabilities():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.1, 0.6, 0.3]])
    h = class_histogram(probs, num_classes=3)
    assert h.fractions.tolist() == pytest.approx([0.25, 0.5, 0.25])


# --- the combined report -----------------------------------------------------------

def test_quality_report_agrees_with_the_single_functions_and_serialises():
    g = _gen(11)
    real = torch.randn(80, 4, generator=g)
    fake = torch.randn(60, 4, generator=g) + 0.3
    probs = torch.softmax(torch.randn(60, 3, generator=g), dim=1)
    rep = quality_report(real, fake, fake_probs=probs, kid_subsets=5, kid_subset_size=50, seed=3)
    assert isinstance(rep, QualityReport)
    assert rep.fid == pytest.approx(fid(real, fake), rel=1e-12)
    assert (rep.kid_mean, rep.kid_std) == kid(real, fake, subsets=5, subset_size=50, seed=3)
    assert (rep.precision, rep.recall) == precision_recall(real, fake, k=3)
    assert (rep.density, rep.coverage) == pytest.approx(density_coverage(real, fake, k=5))
    assert rep.classifier_score_mean == pytest.approx(classifier_score(probs).mean)
    assert rep.class_kl_to_uniform == pytest.approx(class_histogram(probs, 3).kl_to_uniform)
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["fid"] == rep.fid and len(d["class_fractions"]) == 3

    plain = quality_report(real, fake, kid_subsets=2, kid_subset_size=20)
    assert plain.classifier_score_mean is None and plain.class_fractions is None
    json.dumps(plain.to_dict())


def test_accepts_float32_int_and_numpy_inputs():
    x = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    assert fid(x, x.long()) == pytest.approx(0.0, abs=1e-9)
    assert precision_recall(x.numpy(), x.numpy(), k=2) == (1.0, 1.0)


# --- bad inputs --------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: fid(x[:, 0], x), "real_feats"),
        (lambda x: fid(x, x[:, :2]), "fake_feats"),
        (lambda x: fid(x, torch.full_like(x, float("nan"))), "fake_feats"),
        (lambda x: fid(x[:1], x), "real_feats"),
        (lambda x: kid(x, x, subsets=0), "subsets"),
        (lambda x: precision_recall(x, x[:3], k=3), "k"),
        (lambda x: precision_recall(x, x, k=0), "k"),
        (lambda x: density_coverage(x, x, k=10), "k"),
        (lambda x: density_coverage(x.unsqueeze(0), x, k=2), "real_feats"),
        (lambda x: classifier_score(x), "probs"),
        (lambda x: classifier_score(torch.full((5, 2), 0.5), splits=6), "splits"),
        (lambda x: class_histogram(torch.tensor([0, 3]), num_classes=3), "labels_or_probs"),
        (lambda x: class_histogram(torch.tensor([0.5, 1.0]), num_classes=3), "labels_or_probs"),
        (lambda x: class_histogram(torch.tensor([0, 1]), num_classes=0), "num_classes"),
        (lambda x: frechet_distance(torch.zeros(3), torch.eye(2), torch.zeros(3), torch.eye(3)), "sigma1"),
        (lambda x: quality_report(x, x, k_dc=10), "k_dc"),
        (lambda x: quality_report(x, x, fake_probs=torch.full((10, 2), 0.5), num_classes=3), "num_classes"),
        (lambda x: quality_report(x, x[:9], fake_probs=torch.full((9, 2), 0.5)), "fake_probs"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call, name):
    x = torch.randn(10, 3, generator=_gen(12))
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call(x)
