"""Sample-quality metrics on precomputed features.

Every function here takes FEATURE tensors of shape (N, D) (or class probabilities)
that a backbone computed elsewhere, so one feature pass serves all metrics. The
functions are pure: they accept torch tensors (or array-likes) on any device,
compute in float64 on that device, and return Python floats, small named tuples
or the :class:`QualityReport` dataclass.

Metrics and the papers they follow:

- FID: Heusel et al. 2017, the Frechet distance between Gaussians fitted to the
  two feature sets.
- KID: Binkowski et al. 2018, unbiased MMD^2 with the cubic polynomial kernel,
  averaged over random subsets.
- Classifier score: the Inception Score formula of Salimans et al. 2016, on the
  probabilities of a domain classifier.
- Improved precision and recall: Kynkaanniemi et al. 2019.
- Density and coverage: Naeem et al. 2020.
- Class histogram with its KL divergence to uniform (mode dropping).

Balls are closed: a point y lies in B(x, r) when ||x - y|| <= r (the definition
in Kynkaanniemi et al. 2019; used for density and coverage too).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

__all__ = [
    "MeanStd",
    "PrecisionRecall",
    "DensityCoverage",
    "ClassHistogram",
    "QualityReport",
    "feature_stats",
    "frechet_distance",
    "fid",
    "kid",
    "classifier_score",
    "precision_recall",
    "density_coverage",
    "class_histogram",
    "quality_report",
]

# Largest number of float64 entries of a distance block held at once (2**24 is
# 128 MiB): the real x fake pass walks over row chunks of this size, the k-NN
# pass over square blocks of a quarter of it.
_BLOCK_ELEMENTS = 2**24


class MeanStd(NamedTuple):
    mean: float
    std: float


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


class DensityCoverage(NamedTuple):
    density: float
    coverage: float


class ClassHistogram(NamedTuple):
    fractions: Tensor  # (num_classes,) float64 on CPU, sums to 1
    kl_to_uniform: float


# --- input checks ------------------------------------------------------------------

def _as_tensor(x, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{name}: expected a tensor, got {type(x).__name__} ({e})") from None


def _check_finite(x: Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: expected finite values, found NaN or infinity")


def _check_feats(x, name: str, min_rows: int = 1) -> Tensor:
    """Return ``x`` as a float64 (N, D) tensor, or raise ValueError naming ``name``."""
    x = _as_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D tensor (N, D) of features, got shape {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one feature column, got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} samples (rows), got {x.shape[0]}")
    if x.is_complex():
        raise ValueError(f"{name}: expected real-valued features, got dtype {x.dtype}")
    x = x.to(torch.float64)
    _check_finite(x, name)
    return x


def _check_pair(real, fake, min_rows: int = 1) -> tuple[Tensor, Tensor]:
    real = _check_feats(real, "real_feats", min_rows)
    fake = _check_feats(fake, "fake_feats", min_rows)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"fake_feats: expected feature dimension {real.shape[1]} (as in real_feats), got {fake.shape[1]}"
        )
    return real, fake.to(real.device)


def _check_k(k: int, n: int, name: str, of: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(f"{name}: expected an integer with 1 <= {name} < number of samples in {of} ({n}), got {k!r}")


def _check_positive_int(v, name: str, minimum: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {v!r}")


# --- Frechet distance (FID) --------------------------------------------------------

def feature_stats(feats) -> tuple[Tensor, Tensor]:
    """Mean (D,) and covariance (D, D) of features (N, D), float64, on the input's device.

    The covariance is the unbiased one (divides by N - 1), as in the reference FID code.
    """
    feats = _check_feats(feats, "feats", min_rows=2)
    mu = feats.mean(dim=0)
    sigma = torch.cov(feats.T, correction=1).reshape(feats.shape[1], feats.shape[1])
    return mu, sigma


def _psd_eigvals(evals: Tensor) -> Tensor:
    """Eigenvalues of a symmetric PSD matrix, with rounding noise set to exactly 0.

    A symmetric eigensolver returns each eigenvalue with an absolute error of
    about D * eps * max|lambda|, so a zero eigenvalue comes back as +-1e-16 or so.
    Its square root (1e-8) would be far larger than the noise itself; eigenvalues
    below that tolerance, and negative ones, are therefore treated as 0.
    """
    tol = max(evals.shape[-1], 1) * torch.finfo(evals.dtype).eps * evals.abs().max()
    return torch.where(evals > tol, evals, torch.zeros_like(evals))


def _psd_sqrt(s: Tensor) -> Tensor:
    """Square root of a symmetric PSD matrix through its eigendecomposition."""
    s = 0.5 * (s + s.T)
    evals, evecs = torch.linalg.eigh(s)
    return (evecs * _psd_eigvals(evals).sqrt()) @ evecs.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

        d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})
    """
    mu1 = _as_tensor(mu1, "mu1").to(torch.float64)
    mu2 = _as_tensor(mu2, "mu2").to(torch.float64)
    sigma1 = _as_tensor(sigma1, "sigma1").to(torch.float64)
    sigma2 = _as_tensor(sigma2, "sigma2").to(torch.float64)
    if mu1.ndim != 1:
        raise ValueError(f"mu1: expected a 1-D mean vector, got shape {tuple(mu1.shape)}")
    d = mu1.shape[0]
    for name, t, shape in (("mu2", mu2, (d,)), ("sigma1", sigma1, (d, d)), ("sigma2", sigma2, (d, d))):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape} (to match mu1), got {tuple(t.shape)}")
        _check_finite(t, name)
    _check_finite(mu1, "mu1")
    dev = mu1.device
    mu2, sigma1, sigma2 = mu2.to(dev), sigma1.to(dev), sigma2.to(dev)

    # Tr((S1 S2)^{1/2}). The reference implementation calls scipy.linalg.sqrtm on
    # the product S1 S2. That product is not symmetric, so sqrtm goes through a
    # general (complex) Schur decomposition; rounding then gives complex results
    # with small imaginary "noise", and it is inaccurate when the covariances are
    # singular (fewer samples than dimensions). But S1 S2 is similar to the
    # symmetric PSD matrix M = S1^{1/2} S2 S1^{1/2} (conjugate by S1^{1/2}), so
    # both have the same real, non-negative eigenvalues lambda_i, and
    # Tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i). For M a symmetric eigensolver
    # (eigh) is stable and real; tiny or negative eigenvalues that are only
    # rounding noise are set to 0 (see _psd_eigvals).
    root1 = _psd_sqrt(sigma1)
    m = root1 @ sigma2 @ root1
    m = 0.5 * (m + m.T)
    tr_covmean = _psd_eigvals(torch.linalg.eigvalsh(m)).sqrt().sum()

    diff = mu1 - mu2
    value = diff.dot(diff) + torch.trace(sigma1) + torch.trace(sigma2) - 2.0 * tr_covmean
    # The true value is >= 0; only rounding can push it below (identical inputs).
    return max(float(value), 0.0)


def fid(real_feats, fake_feats) -> float:
    """Frechet Inception Distance between two feature sets (N, D) and (M, D)."""
    real, fake = _check_pair(real_feats, fake_feats, min_rows=2)
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


# --- Kernel Inception Distance -----------------------------------------------------

def _poly_kernel(x: Tensor, y: Tensor) -> Tensor:
    # k(x, y) = (x . y / d + 1)^3, Binkowski et al. 2018.
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 estimate between samples x (m, D) and y (n, D), m, n >= 2.

        1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j)
          - 2/(m n) sum_{i,j} k(x_i, y_j)
    """
    m, n = x.shape[0], y.shape[0]
    kxx = _poly_kernel(x, x)
    kyy = _poly_kernel(y, y)
    kxy = _poly_kernel(x, y)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return sxx + syy - 2.0 * kxy.sum() / (m * n)


def kid(real_feats, fake_feats, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> MeanStd:
    """Kernel Inception Distance: mean and standard deviation of unbiased MMD^2 over subsets.

    Each of ``subsets`` rounds draws ``subset_size`` real and ``subset_size`` fake
    samples without replacement (``subset_size`` is capped at min(N, M)) and
    computes the unbiased MMD^2 with the kernel (x.y / D + 1)^3. The draws come
    from a CPU generator seeded with ``seed``, so results are reproducible. The
    std is the population standard deviation over subsets (as in the reference
    implementations). The estimate is unbiased, so it can be slightly negative
    when the distributions match.
    """
    real, fake = _check_pair(real_feats, fake_feats, min_rows=2)
    _check_positive_int(subsets, "subsets")
    _check_positive_int(subset_size, "subset_size", minimum=2)
    size = min(subset_size, real.shape[0], fake.shape[0])
    gen = torch.Generator().manual_seed(int(seed))
    scores = torch.empty(subsets, dtype=torch.float64)
    for s in range(subsets):
        ir = torch.randperm(real.shape[0], generator=gen)[:size].to(real.device)
        jf = torch.randperm(fake.shape[0], generator=gen)[:size].to(real.device)
        scores[s] = _mmd2_unbiased(real[ir], fake[jf]).cpu()
    return MeanStd(float(scores.mean()), float(scores.std(correction=0)))


# --- classifier (Inception-style) score --------------------------------------------

def _check_probs(probs, name: str) -> Tensor:
    p = _check_feats(probs, name)
    if bool((p < 0).any()):
        raise ValueError(f"{name}: expected probabilities (non-negative), found negative values")
    row_sums = p.sum(dim=1)
    if not bool(torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-3)):
        raise ValueError(
            f"{name}: expected rows of class probabilities summing to 1 (apply softmax to logits first)"
        )
    return p


def classifier_score(probs, splits: int = 10) -> MeanStd:
    """Inception-Score formula exp(E_x KL(p(y|x) || p(y))) on a domain classifier's probabilities.

    ``probs`` is (N, K), rows summing to 1. The samples are cut into ``splits``
    consecutive parts; p(y) is the mean prediction within each part. Returns the
    mean and the (population) standard deviation of the per-part scores. Ranges
    from 1 (every sample gets the same prediction) to K (confident predictions
    spread evenly over the K classes).
    """
    p = _check_probs(probs, "probs")
    _check_positive_int(splits, "splits")
    n = p.shape[0]
    if splits > n:
        raise ValueError(f"splits: expected at most the number of samples in probs ({n}), got {splits}")
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        py = part.mean(dim=0, keepdim=True)
        # KL(p(y|x) || p(y)) = sum_y p log p - p log p(y), with 0 log 0 = 0.
        kl = (torch.special.xlogy(part, part) - torch.special.xlogy(part, py)).sum(dim=1)
        scores.append(math.exp(float(kl.mean())))
    t = torch.tensor(scores, dtype=torch.float64)
    return MeanStd(float(t.mean()), float(t.std(correction=0)))


# --- k-NN manifolds: precision/recall, density/coverage ---------------------------

def _row_chunk(cols: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(cols, 1))


def _sq_dists(x: Tensor, y: Tensor, y_sq: Tensor) -> Tensor:
    """Squared Euclidean distances (len(x), len(y)) as |x|^2 + |y|^2 - 2 x.y.

    One matrix product (the same route torch.cdist takes for large inputs),
    without the square root: balls are tested on squared distances and radii.
    """
    d = torch.addmm(y_sq[None, :], x, y.T, alpha=-2.0)
    d += (x * x).sum(dim=1, keepdim=True)
    return d.clamp_min_(0)


def _smallest(values: Tensor, k: int, dim: int) -> Tensor:
    """The k smallest entries along dim (fewer if the dimension is shorter), unsorted, laid out along dim 1."""
    k = min(k, values.shape[dim])
    out = torch.topk(values, k, dim=dim, largest=False, sorted=False).values
    return out if dim == 1 else out.T


def _knn_sq_radii(x: Tensor, ks: Sequence[int]) -> list[Tensor]:
    """Squared distance from each row of x to its k-th nearest other row, for each k in ks.

    The point itself is excluded by index (its diagonal entry is set to +inf), so
    duplicates elsewhere in the set still count as neighbours at distance 0.
    The distance matrix is symmetric, so it is walked in square blocks of the
    upper triangle only; each block updates the running k smallest distances of
    both its rows and its columns.
    """
    n = x.shape[0]
    kmax = max(ks)
    x_sq = (x * x).sum(dim=1)
    best = torch.full((n, kmax), math.inf, dtype=x.dtype, device=x.device)
    side = max(1, math.isqrt(_BLOCK_ELEMENTS // 4))

    def merge(rows: slice, block: Tensor, dim: int) -> None:
        cand = torch.cat([best[rows], _smallest(block, kmax, dim)], dim=1)
        best[rows] = _smallest(cand, kmax, 1)

    for a in range(0, n, side):
        ra = slice(a, min(a + side, n))
        for b in range(a, n, side):
            rb = slice(b, min(b + side, n))
            d = _sq_dists(x[ra], x[rb], x_sq[rb])
            if a == b:
                d.fill_diagonal_(math.inf)
            merge(ra, d, 1)
            if a != b:
                merge(rb, d, 0)
    best = best.sort(dim=1).values
    return [best[:, k - 1].clone() for k in ks]


def _cross_balls(
    real: Tensor, fake: Tensor, real_sq_radii: Sequence[Tensor], fake_sq_radius: Tensor | None
) -> tuple[list[Tensor], list[Tensor], Tensor | None]:
    """One pass over the real x fake distances, in chunks of real rows.

    For each squared-radius vector r in ``real_sq_radii`` (one per real point):
      - fake_hits (M,): how many real balls B(real_i, r_i) contain fake_j;
      - real_hit (N,): whether real ball i contains at least one fake point.
    If ``fake_sq_radius`` is given, real_in_fake (N,): whether real_i lies in
    at least one fake ball B(fake_j, fake_radius_j).
    """
    n, m = real.shape[0], fake.shape[0]
    fake_sq = (fake * fake).sum(dim=1)
    fake_hits = [torch.zeros(m, dtype=torch.int64, device=real.device) for _ in real_sq_radii]
    real_hit = [torch.zeros(n, dtype=torch.bool, device=real.device) for _ in real_sq_radii]
    real_in_fake = None if fake_sq_radius is None else torch.zeros(n, dtype=torch.bool, device=real.device)
    step = _row_chunk(m)
    for a in range(0, n, step):
        rows = slice(a, min(a + step, n))
        d = _sq_dists(real[rows], fake, fake_sq)  # (rows, M)
        nearest_fake = d.amin(dim=1)
        for r, hits, covered in zip(real_sq_radii, fake_hits, real_hit):
            hits += (d <= r[rows, None]).sum(dim=0)
            covered[rows] = nearest_fake <= r[rows]
        if fake_sq_radius is not None:
            real_in_fake[rows] = (d <= fake_sq_radius[None, :]).any(dim=1)
    return fake_hits, real_hit, real_in_fake


def precision_recall(real_feats, fake_feats, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set approximates its manifold by the union of balls around its points,
    with radius the distance to the point's k-th nearest neighbour in the same set.
    precision = fraction of fake samples inside at least one real ball;
    recall    = fraction of real samples inside at least one fake ball.
    """
    real, fake = _check_pair(real_feats, fake_feats)
    _check_k(k, real.shape[0], "k", "real_feats")
    _check_k(k, fake.shape[0], "k", "fake_feats")
    (r_real,) = _knn_sq_radii(real, [k])
    (r_fake,) = _knn_sq_radii(fake, [k])
    (fake_hits,), _, real_in_fake = _cross_balls(real, fake, [r_real], r_fake)
    return PrecisionRecall(
        float((fake_hits > 0).double().mean()), float(real_in_fake.double().mean())
    )


def density_coverage(real_feats, fake_feats, k: int = 5) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020), with balls around the real samples only.

    With r_i the distance from real_i to its k-th nearest real neighbour,
    density  = 1/(k M) sum_j sum_i 1[fake_j in B(real_i, r_i)]  (about 1 when the
               sets match; above 1 when fakes crowd dense real regions);
    coverage = 1/N sum_i 1[some fake_j in B(real_i, r_i)].
    """
    real, fake = _check_pair(real_feats, fake_feats)
    _check_k(k, real.shape[0], "k", "real_feats")
    (r_real,) = _knn_sq_radii(real, [k])
    (fake_hits,), (real_hit,), _ = _cross_balls(real, fake, [r_real], None)
    m = fake.shape[0]
    return DensityCoverage(float(fake_hits.sum()) / (k * m), float(real_hit.double().mean()))


# --- class histogram (mode dropping) -----------------------------------------------

def class_histogram(labels_or_probs, num_classes: int) -> ClassHistogram:
    """Fraction of generated samples per class, and its KL divergence to uniform.

    Accepts integer labels (N,) or class probabilities / scores (N, num_classes),
    reduced by argmax. KL(hist || uniform) = sum_c p_c log(p_c K): 0 when every
    class is equally frequent, log K when all samples fall in one class.
    """
    _check_positive_int(num_classes, "num_classes")
    x = _as_tensor(labels_or_probs, "labels_or_probs")
    if x.ndim == 2:
        if x.shape[1] != num_classes:
            raise ValueError(
                f"labels_or_probs: expected {num_classes} columns (num_classes), got shape {tuple(x.shape)}"
            )
        if x.is_floating_point():
            _check_finite(x, "labels_or_probs")
        labels = x.argmax(dim=1)
    elif x.ndim == 1:
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"labels_or_probs: expected integer class labels for a 1-D input, got dtype {x.dtype}")
        labels = x
    else:
        raise ValueError(
            f"labels_or_probs: expected labels (N,) or probabilities (N, num_classes), got shape {tuple(x.shape)}"
        )
    if labels.numel() == 0:
        raise ValueError("labels_or_probs: expected at least one sample, got none")
    if bool((labels < 0).any()) or bool((labels >= num_classes).any()):
        raise ValueError(f"labels_or_probs: expected labels in [0, {num_classes}), got values outside that range")
    counts = torch.bincount(labels.cpu().to(torch.int64), minlength=num_classes).to(torch.float64)
    p = counts / counts.sum()
    kl = float(torch.special.xlogy(p, p * num_classes).sum())
    return ClassHistogram(p, max(kl, 0.0))


# --- everything at once ------------------------------------------------------------

@dataclass
class QualityReport:
    """All sample-quality metrics for one (real, fake) pair of feature sets."""

    n_real: int
    n_fake: int
    fid: float
    kid_mean: float
    kid_std: float
    precision: float
    recall: float
    density: float
    coverage: float
    k_pr: int
    k_dc: int
    kid_subsets: int
    kid_subset_size: int  # after capping at min(n_real, n_fake)
    seed: int
    classifier_score_mean: float | None = None
    classifier_score_std: float | None = None
    class_fractions: list[float] | None = None
    class_kl_to_uniform: float | None = None

    def to_dict(self) -> dict:
        """Plain dict of Python numbers (and None), ready for json.dump."""
        return asdict(self)


def quality_report(
    real_feats,
    fake_feats,
    fake_probs=None,
    num_classes: int | None = None,
    k_pr: int = 3,
    k_dc: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> QualityReport:
    """Compute FID, KID, precision/recall, density/coverage (and, given ``fake_probs``,
    the classifier score over 10 splits and the class histogram) in one call.

    The real k-NN distances are computed once for both k_pr and k_dc, and one pass
    over the real x fake distances serves all four k-NN metrics.
    ``fake_probs`` (M, K) are the domain classifier's probabilities for the same
    fake samples; ``num_classes`` defaults to K.
    """
    real, fake = _check_pair(real_feats, fake_feats, min_rows=2)
    _check_k(k_pr, real.shape[0], "k_pr", "real_feats")
    _check_k(k_pr, fake.shape[0], "k_pr", "fake_feats")
    _check_k(k_dc, real.shape[0], "k_dc", "real_feats")
    _check_positive_int(kid_subsets, "kid_subsets")
    _check_positive_int(kid_subset_size, "kid_subset_size", minimum=2)
    probs = None
    if fake_probs is not None:
        probs = _check_probs(fake_probs, "fake_probs")
        if probs.shape[0] != fake.shape[0]:
            raise ValueError(
                f"fake_probs: expected one row per fake sample ({fake.shape[0]}), got {probs.shape[0]}"
            )
        if probs.shape[0] < 10:
            raise ValueError(f"fake_probs: expected at least 10 rows (10 classifier-score splits), got {probs.shape[0]}")
        if num_classes is None:
            num_classes = probs.shape[1]
        elif num_classes != probs.shape[1]:
            raise ValueError(f"num_classes: expected {probs.shape[1]} (the columns of fake_probs), got {num_classes!r}")

    fid_value = fid(real, fake)
    kid_value = kid(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)

    r_real_pr, r_real_dc = _knn_sq_radii(real, [k_pr, k_dc])
    (r_fake,) = _knn_sq_radii(fake, [k_pr])
    (hits_pr, hits_dc), (_, covered_dc), real_in_fake = _cross_balls(real, fake, [r_real_pr, r_real_dc], r_fake)
    m = fake.shape[0]

    report = QualityReport(
        n_real=real.shape[0],
        n_fake=m,
        fid=fid_value,
        kid_mean=kid_value.mean,
        kid_std=kid_value.std,
        precision=float((hits_pr > 0).double().mean()),
        recall=float(real_in_fake.double().mean()),
        density=float(hits_dc.sum()) / (k_dc * m),
        coverage=float(covered_dc.double().mean()),
        k_pr=k_pr,
        k_dc=k_dc,
        kid_subsets=kid_subsets,
        kid_subset_size=min(kid_subset_size, real.shape[0], m),
        seed=int(seed),
    )
    if probs is not None:
        score = classifier_score(probs, splits=10)
        hist = class_histogram(probs, num_classes)
        report.classifier_score_mean = score.mean
        report.classifier_score_std = score.std
        report.class_fractions = [float(v) for v in hist.fractions]
        report.class_kl_to_uniform = hist.kl_to_uniform
    return report
