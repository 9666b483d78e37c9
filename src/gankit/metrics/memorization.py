"""Does the generator copy its training data?

Three views, from the plainest to the most careful:

* :func:`nn_distance_comparison`: how far is each generated sample from its
  nearest training image, compared with how far real images the model never saw
  (a held-out set) are from theirs. A generator that memorises sits much closer.
* :func:`data_copying_test`: the three-sample test of Meehan, Chaudhuri &
  Dasgupta 2020 ("A Non-Parametric Test to Detect Data-Copying in Generative
  Models", AISTATS), which makes that comparison cell by cell so that copying in
  one region is not hidden by underfitting in another.
* :func:`nearest_neighbour_grid`: the picture to look at, each generated image
  followed by its nearest training images.

Distances are Euclidean on flattened inputs: pixels (any fixed scale, the same for
all sets) or feature vectors from a backbone (Meehan et al. work in a learned
64-D embedding for MNIST; pixel L2 is the classical, weaker check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gankit.metrics.inputs import as_matrix

__all__ = [
    "CopyingResult",
    "data_copying_test",
    "nearest_neighbour_grid",
    "nearest_neighbours",
    "nn_distance_comparison",
]

_QUANTILES = (5, 25, 50, 75, 95)
# Extra candidates kept by the float32 search and re-ranked with exact distances.
_RERANK_MARGIN = 8



def _same_dim(x: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    if x.shape[1] != ref.shape[1]:
        raise ValueError(f"{name}: dimension {x.shape[1]} (flattened) does not match "
                         f"{ref_name}'s {ref.shape[1]}")


def _positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return value


def nearest_neighbours(
    queries,
    refs,
    k: int = 1,
    batch_size: int = 256,
    *,
    ref_batch_size: int = 8192,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of ``refs`` to each row of ``queries`` (Euclidean).

    queries: (Q, ...) and refs: (R, ...) with the same flattened dimension.
    Returns (distances, indices), both (Q, k), sorted nearest first; distances in
    float64, indices into ``refs`` (int64).

    The search uses ||q||^2 + ||r||^2 - 2 q.r in blocks of batch_size queries by
    ref_batch_size refs, in float32 (float64 when an input is float64), on
    mean-centred inputs. The k + 8 best candidates are then re-ranked with
    distances computed directly in float64, so the distances returned are exact and
    the order is exact unless float32 rounding pushed a true neighbour out of the
    candidate list (a gap far below anything visible in images).
    """
    q = as_matrix(queries, "queries")
    r = as_matrix(refs, "refs")
    _same_dim(q, "queries", r, "refs")
    _positive_int(k, "k")
    if k > r.shape[0]:
        raise ValueError(f"k: asked for {k} neighbours but refs has only {r.shape[0]} rows")
    _positive_int(batch_size, "batch_size")
    _positive_int(ref_batch_size, "ref_batch_size")
    return _knn(q, r, k, batch_size, ref_batch_size)


def _knn(q: torch.Tensor, r: torch.Tensor, k: int, batch_size: int = 256,
         ref_batch_size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """nearest_neighbours on checked (Q, D) and (R, D) floating tensors."""
    dtype = torch.float64 if torch.float64 in (q.dtype, r.dtype) else torch.float32
    rc = r.to(dtype)
    centre = rc.mean(dim=0)
    rc = rc - centre
    r_sq = rc.square().sum(dim=1)
    n_cand = min(r.shape[0], k + _RERANK_MARGIN)

    out_d = torch.empty(q.shape[0], k, dtype=torch.float64)
    out_i = torch.empty(q.shape[0], k, dtype=torch.int64)
    for start in range(0, q.shape[0], batch_size):
        qb = q[start:start + batch_size].to(dtype) - centre
        q_sq = qb.square().sum(dim=1, keepdim=True)
        best_d = best_i = None
        for r_start in range(0, r.shape[0], ref_batch_size):
            block = rc[r_start:r_start + ref_batch_size]
            d2 = torch.addmm(q_sq + r_sq[r_start:r_start + block.shape[0]], qb, block.T, alpha=-2.0)
            m = min(n_cand, block.shape[0])
            d, i = torch.topk(d2, m, dim=1, largest=False)
            i = i + r_start
            if best_d is not None:
                d, i = torch.cat([best_d, d], dim=1), torch.cat([best_i, i], dim=1)
                d, pos = torch.topk(d, min(n_cand, d.shape[1]), dim=1, largest=False)
                i = torch.gather(i, 1, pos)
            best_d, best_i = d, i
        # exact re-ranking of the candidates
        q64 = q[start:start + batch_size].to(torch.float64)
        exact = (r[best_i].to(torch.float64) - q64.unsqueeze(1)).square().sum(dim=2).sqrt()
        exact, order = torch.sort(exact, dim=1, stable=True)
        out_d[start:start + q64.shape[0]] = exact[:, :k]
        out_i[start:start + q64.shape[0]] = torch.gather(best_i, 1, order)[:, :k]
    return out_d, out_i


def _quantiles(x: np.ndarray) -> dict[str, float]:
    values = np.percentile(x, _QUANTILES)
    return {f"q{p:02d}": float(v) for p, v in zip(_QUANTILES, values)}


def nn_distance_comparison(generated, train, heldout, *, batch_size: int = 256) -> dict:
    """Nearest-training-neighbour distances of generated samples against those of
    held-out real data (real images the model never saw: the reference).

    Returns a JSON-ready dict of floats:

    * ``generated_median`` / ``heldout_median`` and ``median_ratio``
      (generated / held-out; well below 1 means generated samples hug the
      training set more tightly than fresh real data does),
    * ``generated_quantiles`` / ``heldout_quantiles``: the 5/25/50/75/95th
      percentiles, keys ``q05`` ... ``q95``,
    * ``fraction_below_heldout_q05``: share of generated samples closer to the
      training set than the 5th percentile of held-out distances (about 0.05
      for a generator that does not copy; near 1 for one that does),
    * ``mannwhitney_u``: U of the generated distances (number of (generated,
      held-out) pairs with the generated distance larger, ties counting 1/2;
      ``n_generated * n_heldout / 2`` when the distributions agree),
      ``p_value``: one-sided Mann-Whitney p-value for "generated distances are
      stochastically smaller" (small p = evidence of copying), and
      ``p_value_two_sided``,
    * ``n_generated``, ``n_heldout``.
    """
    from scipy.stats import mannwhitneyu

    g = as_matrix(generated, "generated")
    t = as_matrix(train, "train")
    h = as_matrix(heldout, "heldout")
    _same_dim(g, "generated", t, "train")
    _same_dim(h, "heldout", t, "train")
    _positive_int(batch_size, "batch_size")
    dg = _knn(g, t, 1, batch_size)[0][:, 0].numpy()
    dh = _knn(h, t, 1, batch_size)[0][:, 0].numpy()
    less = mannwhitneyu(dg, dh, alternative="less", method="asymptotic")
    two = mannwhitneyu(dg, dh, alternative="two-sided", method="asymptotic")
    h_q = _quantiles(dh)
    g_med, h_med = float(np.median(dg)), float(np.median(dh))
    return {
        "generated_median": g_med,
        "heldout_median": h_med,
        "median_ratio": g_med / h_med if h_med > 0 else math.inf,
        "generated_quantiles": _quantiles(dg),
        "heldout_quantiles": h_q,
        "fraction_below_heldout_q05": float(np.mean(dg < h_q["q05"])),
        "mannwhitney_u": float(less.statistic),
        "p_value": float(less.pvalue),
        "p_value_two_sided": float(two.pvalue),
        "n_generated": int(len(dg)),
        "n_heldout": int(len(dh)),
    }


@dataclass(frozen=True)
class CopyingResult:
    """Outcome of :func:`data_copying_test`.

    z_u: the aggregate statistic C_T = sum_c pi_n(c) Z_U(c) / sum_c pi_n(c) over the
    cells used. Sign: negative = generated samples are closer to the training set
    than held-out data is = data copying (Meehan et al. flag C_T well below 0,
    e.g. < -3); about 0 = no evidence either way; strongly positive = generated
    samples are farther from the training set than real data = underfitting.
    cell_z: Z_U of every cell (float64, (n_cells,)), NaN where it was not computed
    (no held-out or no generated point in the cell). cells_used: the cells in the
    aggregate. heldout_mass: pi_n(c), the share of held-out points in each cell.
    generated_counts: generated points per cell. tau: the threshold applied
    (cells need a generated share Q_m(c) > tau).
    """

    z_u: float
    cell_z: torch.Tensor
    cells_used: tuple[int, ...]
    heldout_mass: torch.Tensor
    generated_counts: torch.Tensor
    tau: float


def _z_mann_whitney(generated_d: np.ndarray, heldout_d: np.ndarray) -> float:
    """Z score of the Mann-Whitney U of the generated distances against the held-out
    ones under the null of equal distributions: (U - mn/2) / sqrt(mn(m+n+1)/12)."""
    from scipy.stats import mannwhitneyu

    m, n = len(generated_d), len(heldout_d)
    u = mannwhitneyu(generated_d, heldout_d, alternative="two-sided", method="asymptotic").statistic
    return float((u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12))


def fit_cells(train, n_cells: int, seed: int = 0):
    """The data-copying test's partition: scikit-learn k-means on ``train`` (one init, seeded)."""
    from sklearn.cluster import KMeans

    t = as_matrix(train, "train", min_rows=max(2, n_cells))
    return KMeans(n_clusters=n_cells, random_state=seed, n_init=1).fit(t.to(torch.float32).numpy())


def data_copying_test(
    train,
    heldout,
    generated,
    n_cells: int = 50,
    seed: int = 0,
    *,
    tau: float | None = None,
    batch_size: int = 256,
    cells=None,
) -> CopyingResult:
    """The three-sample data-copying test C_T of Meehan, Chaudhuri & Dasgupta 2020.

    train: the generator's training set T; heldout: P_n, n real points the model
    never saw; generated: Q_m, m generated points; all (N, ...) with one flattened
    dimension (pixels or embeddings; the paper embeds MNIST in 64-D first).

    1. Partition the space into ``n_cells`` cells by k-means fitted on ``train``
       (scikit-learn KMeans, ``random_state=seed``; the paper's MNIST runs use 50).
    2. In each cell c, L(x) = distance from x to its nearest training point in the
       same cell (as in the authors' released code, ``data_copying_tests.py``),
       for the held-out and generated points of c; U = number of (generated,
       held-out) pairs with the generated distance larger (ties 1/2), and
       Z_U(c) = (U - mn/2) / sqrt(mn(m+n+1)/12) with the cell's counts m, n.
    3. Keep the cells where the generated sample is large enough, Q_m(c) > tau
       (the paper's Pi_tau; default tau = 20 / m as in the authors' experiments,
       i.e. more than 20 generated points in the cell) and that hold held-out
       points; C_T = sum pi_n(c) Z_U(c) / sum pi_n(c), pi_n(c) the held-out share.

    ``cells``: a k-means already fitted on ``train`` (:func:`fit_cells`), to test several
    generated sets against one partition without refitting it.

    Sign convention: see :class:`CopyingResult` (negative = copying). Raises
    ValueError, naming the argument, for mismatched dimensions, too few points, or
    when no cell passes the threshold.
    """
    _positive_int(n_cells, "n_cells")
    _positive_int(batch_size, "batch_size")
    t = as_matrix(train, "train", min_rows=max(2, n_cells))
    h = as_matrix(heldout, "heldout", min_rows=2)
    g = as_matrix(generated, "generated", min_rows=2)
    _same_dim(h, "heldout", t, "train")
    _same_dim(g, "generated", t, "train")
    m, n = g.shape[0], h.shape[0]
    if tau is None:
        tau = 20 / m
    elif not (0 <= tau < 1):
        raise ValueError(f"tau: must be in [0, 1), got {tau!r}")

    km = fit_cells(t, n_cells, seed) if cells is None else cells
    if km.n_clusters != n_cells:
        raise ValueError(f"cells: a partition into {km.n_clusters} cells, but n_cells={n_cells}")
    t_lab = km.predict(t.to(torch.float32).numpy())
    h_lab = km.predict(h.to(torch.float32).numpy())
    g_lab = km.predict(g.to(torch.float32).numpy())

    h_counts = np.bincount(h_lab, minlength=n_cells)
    g_counts = np.bincount(g_lab, minlength=n_cells)
    cell_z = np.full(n_cells, np.nan)
    used: list[int] = []
    for c in range(n_cells):
        t_c = t[torch.from_numpy(t_lab == c)]
        if h_counts[c] == 0 or g_counts[c] == 0 or t_c.shape[0] == 0:
            continue
        lp = _knn(h[torch.from_numpy(h_lab == c)], t_c, 1, batch_size)[0][:, 0].numpy()
        lq = _knn(g[torch.from_numpy(g_lab == c)], t_c, 1, batch_size)[0][:, 0].numpy()
        cell_z[c] = _z_mann_whitney(lq, lp)
        if g_counts[c] / m > tau:
            used.append(c)
    if not used:
        raise ValueError(
            f"generated: no k-means cell holds more than tau * m = {tau * m:.3g} generated "
            f"points and some held-out points; draw more generated samples, lower tau or "
            f"use fewer cells (n_cells={n_cells})")
    weights = h_counts[used] / n
    z_u = float(np.dot(weights, cell_z[used]) / weights.sum())
    return CopyingResult(
        z_u=z_u,
        cell_z=torch.from_numpy(cell_z),
        cells_used=tuple(int(c) for c in used),
        heldout_mass=torch.from_numpy(h_counts / n),
        generated_counts=torch.from_numpy(g_counts),
        tau=float(tau),
    )


def _to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [-1, 1]; floating images pass through as float."""
    if x.dtype == torch.uint8:
        return x.float() / 127.5 - 1
    return x.detach().float() if x.is_floating_point() else x.float()


def nearest_neighbour_grid(
    generated,
    train,
    n: int = 8,
    k: int = 5,
    pixel: bool = True,
    *,
    generated_features=None,
    train_features=None,
) -> torch.Tensor:
    """Images for a "generated sample and its nearest training images" figure.

    generated: (G, C, H, W) and train: (T, C, H, W) images in [-1, 1] (uint8
    images are mapped there with x / 127.5 - 1). The first
    ``n`` generated images are used (shuffle beforehand for a random pick). Returns
    a float tensor (n * (k + 1), C, H, W): row i is generated image i followed by
    its k nearest training images, nearest first. Save it with
    ``gankit.viz.save_image_grid(grid, path, nrow=k + 1)``.

    pixel=True searches in pixel space; pixel=False searches with
    ``generated_features`` (G, F) and ``train_features`` (T, F) instead (e.g. a
    backbone's embeddings), which are then required.
    """
    gen = _to_unit_range(torch.as_tensor(generated))
    tr = _to_unit_range(torch.as_tensor(train))
    if gen.ndim != 4:
        raise ValueError(f"generated: expected images (N, C, H, W), got shape {tuple(gen.shape)}")
    if tr.ndim != 4:
        raise ValueError(f"train: expected images (N, C, H, W), got shape {tuple(tr.shape)}")
    if gen.shape[1:] != tr.shape[1:]:
        raise ValueError(f"generated: image shape {tuple(gen.shape[1:])} does not match "
                         f"train's {tuple(tr.shape[1:])}")
    _positive_int(n, "n")
    _positive_int(k, "k")
    if n > gen.shape[0]:
        raise ValueError(f"n: asked for {n} rows but generated has only {gen.shape[0]} images")
    if pixel:
        queries, refs = gen[:n], tr
    else:
        if generated_features is None or train_features is None:
            raise ValueError("generated_features: pixel=False needs generated_features and "
                             "train_features")
        gf = as_matrix(generated_features, "generated_features")
        tf = as_matrix(train_features, "train_features")
        if gf.shape[0] != gen.shape[0]:
            raise ValueError(f"generated_features: {gf.shape[0]} rows for {gen.shape[0]} images")
        if tf.shape[0] != tr.shape[0]:
            raise ValueError(f"train_features: {tf.shape[0]} rows for {tr.shape[0]} images")
        queries, refs = gf[:n], tf
    _, idx = nearest_neighbours(queries, refs, k)
    rows = [torch.cat([gen[i:i + 1], tr[idx[i]]]) for i in range(n)]
    return torch.cat(rows)
