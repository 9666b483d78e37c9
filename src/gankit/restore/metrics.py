"""PSNR and SSIM of restored photos (floats in [0, 1], data range 1)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def psnr_tensor(x: Tensor, reference: Tensor) -> Tensor:
    """PSNR in dB as a device tensor (no sync), for the per-step log."""
    mse = (x.float() - reference.float()).pow(2).mean()
    return -10.0 * torch.log10(mse.clamp_min(1e-12))


def psnr(x: Tensor | np.ndarray, reference: Tensor | np.ndarray) -> float:
    """PSNR in dB of ``x`` against ``reference`` (same shape, values in [0, 1])."""
    x, reference = _numpy(x), _numpy(reference)
    mse = float(np.mean((x.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def ssim(x: Tensor | np.ndarray, reference: Tensor | np.ndarray) -> float:
    """SSIM (scikit-image defaults: uniform 7x7 windows; data range 1); colour: the mean over channels."""
    from skimage.metrics import structural_similarity
    x, reference = _as_hwc(_numpy(x)), _as_hwc(_numpy(reference))
    return float(structural_similarity(x, reference, data_range=1.0, channel_axis=2))


def _numpy(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def _as_hwc(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, C), the layout scikit-image reads."""
    return np.ascontiguousarray(x.transpose(1, 2, 0)).astype(np.float64)
