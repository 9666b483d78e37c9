"""Parzen-window log-likelihood: the protocol of Goodfellow et al. 2014, Table 1.

A generator is scored by fitting an isotropic Gaussian kernel density estimate on
samples it drew (the paper: 10,000 of them) and reporting the mean log-likelihood
of held-out test data under that density, "mean ± standard error" over the test
examples (Breuleux, Bengio & Vincent 2011 introduced the estimator for RBM samples).
The kernel width sigma is chosen on a validation set by maximum mean log-likelihood.

For N samples s_i of dimension D and bandwidth sigma,

    log p(x) = logsumexp_i( -||x - s_i||^2 / (2 sigma^2) ) - log N - (D/2) log(2 pi sigma^2).

Images are scored in [0, 1] pixel space, flattened (D = 784 for MNIST): the
caller passes samples and data with pixel values in [0, 1] (map a generator's
[-1, 1] output with ``(x + 1) / 2`` and uint8 images with ``x / 255``). The
numbers depend on that scale; on any other scale they are not comparable with
the paper's 225 ± 2 (MNIST) or 2057 ± 26 (TFD).

Protocol of the authors' released script (``parzen_ll.py`` in goodfeli/adversarial):
10,000 generated samples; sigma chosen from ``numpy.logspace(-1, 0, 10)`` (its
defaults ``--sigma_start -1 --sigma_end 0 --cross_val 10``) on the first 1,000 of
MNIST training images 50,000-59,999; then the 10,000 MNIST test images scored,
standard error = ``ll.std() / sqrt(n_test)`` (numpy's std, ddof = 0).

The estimator is known to be a poor proxy for likelihood in high dimension
(Theis, van den Oord & Bethge 2016); it is here to reproduce the 2014 number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gankit.metrics.inputs import as_matrix

__all__ = [
    "DEFAULT_SIGMAS",
    "ParzenResult",
    "parzen_evaluate",
    "parzen_log_likelihood",
    "select_sigma",
]

# The sigma grid of the original script: numpy.logspace(sigma_start=-1, sigma_end=0, num=cross_val=10).
DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(s) for s in np.logspace(-1, 0, 10))


@dataclass(frozen=True)
class ParzenResult:
    """Outcome of :func:`parzen_evaluate`.

    sigma: the kernel width used on the test set. mean: mean test log-likelihood
    (nats per example). std_error: std / sqrt(n_test), the "±" of the paper's
    Table 1. sigma_table: validation mean log-likelihood for every sigma tried.
    """

    sigma: float
    mean: float
    std_error: float
    sigma_table: dict[float, float]



def _check_sigmas(sigmas: Sequence[float], name: str = "sigmas") -> list[float]:
    values = [float(s) for s in sigmas]
    if not values:
        raise ValueError(f"{name}: empty")
    for s in values:
        if not (s > 0 and math.isfinite(s)):
            raise ValueError(f"{name}: every sigma must be positive and finite, got {s!r}")
    return values


def _check_batch(value: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return value


def _starts(total: int, step: int, progress: bool, description: str) -> Iterator[int]:
    starts = range(0, total, step)
    if not progress:
        yield from starts
        return
    from rich.console import Console
    from rich.progress import track
    yield from track(starts, description=description, console=Console(stderr=True))


def _log_kernel_sums(
    samples: torch.Tensor,
    data: torch.Tensor,
    sigmas: list[float],
    batch_size: int,
    sample_batch_size: int,
    progress: bool = False,
) -> torch.Tensor:
    """float64 (len(sigmas), len(data)): logsumexp_i(-||x - s_i||^2 / (2 sigma^2)).

    Squared distances come from ||x||^2 + ||s||^2 - 2 x.s in the inputs' precision
    (float32 unless a float64 tensor is passed), after subtracting the sample mean
    from both sets (distances are unchanged, the norms and so the cancellation error
    shrink), clamped at 0. One distance block serves every sigma. The scaled
    exponents and the logsumexp, within and across sample chunks, are float64.
    """
    dtype = torch.float64 if torch.float64 in (samples.dtype, data.dtype) else torch.float32
    samples = samples.to(dtype)
    data = data.to(dtype)
    centre = samples.mean(dim=0)
    samples = samples - centre
    data = data - centre
    s_sq = samples.square().sum(dim=1)
    scales = [-0.5 / (s * s) for s in sigmas]
    out = torch.empty(len(sigmas), data.shape[0], dtype=torch.float64)
    for start in _starts(data.shape[0], batch_size, progress, "parzen"):
        x = data[start:start + batch_size]
        x_sq = x.square().sum(dim=1, keepdim=True)
        chunks: list[list[torch.Tensor]] = [[] for _ in sigmas]
        for s_start in range(0, samples.shape[0], sample_batch_size):
            s = samples[s_start:s_start + sample_batch_size]
            d2 = torch.addmm(x_sq + s_sq[s_start:s_start + sample_batch_size], x, s.T, alpha=-2.0)
            d2 = d2.clamp_min_(0.0).to(torch.float64)
            for k, scale in enumerate(scales):
                chunks[k].append(torch.logsumexp(d2 * scale, dim=1))
        for k in range(len(sigmas)):
            out[k, start:start + x.shape[0]] = torch.logsumexp(torch.stack(chunks[k]), dim=0)
    return out


def _normalise(log_sums: torch.Tensor, sigmas: list[float], n: int, d: int) -> torch.Tensor:
    sig = torch.tensor(sigmas, dtype=torch.float64).unsqueeze(1)
    return log_sums - math.log(n) - 0.5 * d * torch.log(2 * math.pi * sig * sig)


def _log_likelihoods(samples, data, sigmas, batch_size, sample_batch_size, progress=False,
                     data_name="data") -> torch.Tensor:
    samples = as_matrix(samples, "samples")
    data = as_matrix(data, data_name)
    if data.shape[1] != samples.shape[1]:
        raise ValueError(f"{data_name}: dimension {data.shape[1]} does not match samples' "
                         f"dimension {samples.shape[1]}")
    _check_batch(batch_size, "batch_size")
    _check_batch(sample_batch_size, "sample_batch_size")
    sums = _log_kernel_sums(samples, data, sigmas, batch_size, sample_batch_size, progress)
    return _normalise(sums, sigmas, samples.shape[0], samples.shape[1])


def parzen_log_likelihood(
    samples,
    data,
    sigma: float,
    batch_size: int = 500,
    *,
    sample_batch_size: int = 5000,
    progress: bool = False,
) -> torch.Tensor:
    """Log-density (float64, shape (len(data),)) of each row of ``data`` under the
    Gaussian Parzen window of width ``sigma`` centred on ``samples``.

    samples: (N, D) or (N, C, H, W) generated samples; data: (M, ...) of the same
    dimension. Images must be in [0, 1] (see the module docstring). Work is split
    into blocks of ``batch_size`` data rows by ``sample_batch_size`` samples, so
    memory stays near batch_size * sample_batch_size * 12 bytes.
    """
    sigmas = _check_sigmas([sigma], "sigma")
    return _log_likelihoods(samples, data, sigmas, batch_size, sample_batch_size, progress)[0]


def select_sigma(
    samples,
    validation,
    sigmas: Sequence[float] | None = None,
    *,
    batch_size: int = 500,
    sample_batch_size: int = 5000,
    progress: bool = False,
) -> tuple[float, dict[float, float]]:
    """The sigma of ``sigmas`` (default ``numpy.logspace(-1, 0, 10)``, the original
    script's grid for MNIST) with the highest mean validation log-likelihood.

    Returns (best_sigma, table) where table maps each sigma to its mean validation
    log-likelihood. Distances are computed once and shared by all sigmas. Ties go
    to the first sigma in the grid.
    """
    grid = _check_sigmas(DEFAULT_SIGMAS if sigmas is None else sigmas)
    ll = _log_likelihoods(samples, validation, grid, batch_size, sample_batch_size, progress,
                          data_name="validation")
    means = ll.mean(dim=1)
    table = {s: float(m) for s, m in zip(grid, means)}
    return grid[int(torch.argmax(means))], table


def parzen_evaluate(
    samples,
    validation,
    test,
    sigmas: Sequence[float] | None = None,
    *,
    batch_size: int = 500,
    sample_batch_size: int = 5000,
    progress: bool = False,
) -> ParzenResult:
    """The Goodfellow et al. 2014 protocol: choose sigma on ``validation``
    (:func:`select_sigma`), then report the mean log-likelihood of ``test`` and its
    standard error std / sqrt(n_test) (population std, as the original script).

    All three sets in [0, 1] pixel space for images. The paper: 10,000 samples,
    1,000 validation images (MNIST train 50,000 onwards), the 10,000 test images.
    """
    sigma, table = select_sigma(samples, validation, sigmas, batch_size=batch_size,
                                sample_batch_size=sample_batch_size, progress=progress)
    ll = _log_likelihoods(samples, test, [sigma], batch_size, sample_batch_size, progress,
                          data_name="test")[0]
    std = float(ll.std(correction=0))
    return ParzenResult(sigma=sigma, mean=float(ll.mean()),
                        std_error=std / math.sqrt(ll.shape[0]), sigma_table=table)
