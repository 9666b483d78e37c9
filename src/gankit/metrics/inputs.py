"""Input checks shared by the metrics that take batches of images or feature vectors."""

from __future__ import annotations

import torch


def as_matrix(x, name: str, min_rows: int = 1) -> torch.Tensor:
    """(N, ...) -> floating (N, D); a 1-D tensor is refused (is it N points or one?)."""
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected a batch of shape (N, D) or (N, C, H, W), "
                         f"got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: needs at least {min_rows} row(s), got {x.shape[0]}")
    if not x.is_floating_point():
        x = x.float()
    x = x.detach().reshape(x.shape[0], -1)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x
