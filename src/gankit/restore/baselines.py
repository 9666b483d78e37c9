"""The classical tools DIP is measured against, one function per method, looked up by task and name.

    inpaint   biharmonic (scikit-image), telea and navier-stokes (OpenCV, radius 3)
    denoise   cbm3d (the bm3d package; BM3D on gray photos), nl-means (scikit-image, h = 0.8 sigma)
    superres  bicubic, lanczos (PIL)

Every method takes what DIP takes (the corrupted photo as (C, H, W) floats in [0, 1], plus the
mask, the noise level or the scale) and returns the restored photo in the same form.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.restore.resample import resize

Method = Callable[..., Tensor]
BASELINES: dict[str, dict[str, Method]] = {"inpaint": {}, "denoise": {}, "superres": {}}


def register(task: str, name: str) -> Callable[[Method], Method]:
    """Add a method to the table; a second method under one name is refused."""
    def add(fn: Method) -> Method:
        if name in BASELINES[task]:
            raise ValueError(f"baseline {task}/{name} is already registered")
        BASELINES[task][name] = fn
        return fn
    return add


def _hwc(x: Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().numpy().transpose(1, 2, 0)).astype(np.float64)


def _chw(x: np.ndarray) -> Tensor:
    x = x[..., None] if x.ndim == 2 else x
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float().clamp_(0, 1)


# --- inpainting: ``mask`` (1, H, W), 1 = keep ------------------------------------------

@register("inpaint", "biharmonic")
def biharmonic(image: Tensor, *, mask: Tensor, **_) -> Tensor:
    from skimage.restoration import inpaint_biharmonic
    hidden = mask[0].numpy() < 0.5
    return _chw(inpaint_biharmonic(_hwc(image), hidden, channel_axis=2))


def _opencv(image: Tensor, mask: Tensor, flag: int) -> Tensor:
    import cv2
    pixels = (image.clamp(0, 1).numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    hidden = (mask[0].numpy() < 0.5).astype(np.uint8)
    out = cv2.inpaint(np.ascontiguousarray(pixels), hidden, 3, flag)
    return _chw(out.astype(np.float64) / 255.0)


@register("inpaint", "telea")
def telea(image: Tensor, *, mask: Tensor, **_) -> Tensor:
    import cv2
    return _opencv(image, mask, cv2.INPAINT_TELEA)


@register("inpaint", "navier-stokes")
def navier_stokes(image: Tensor, *, mask: Tensor, **_) -> Tensor:
    import cv2
    return _opencv(image, mask, cv2.INPAINT_NS)


# --- denoising: ``sigma`` in [0, 1] units (25/255 for sigma 25) -------------------------

@register("denoise", "cbm3d")
def cbm3d(image: Tensor, *, sigma: float, **_) -> Tensor:
    import bm3d
    x = _hwc(image)
    if x.shape[2] == 3:
        return _chw(bm3d.bm3d_rgb(x, sigma))
    return _chw(np.asarray(bm3d.bm3d(x[..., 0], sigma)))


@register("denoise", "nl-means")
def nl_means(image: Tensor, *, sigma: float, **_) -> Tensor:
    from skimage.restoration import denoise_nl_means
    x = _hwc(image)
    gray = x.shape[2] == 1   # scikit-image wants a gray photo without a channel axis
    out = denoise_nl_means(x[..., 0] if gray else x, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                           patch_distance=6, channel_axis=None if gray else 2)
    return _chw(out)


def estimate_sigma(image: Tensor) -> float:
    """The noise std of a photo (wavelet estimate, scikit-image), in [0, 1] units."""
    from skimage.restoration import estimate_sigma as wavelet_sigma
    return float(np.mean(wavelet_sigma(_hwc(image), channel_axis=2)))


# --- super-resolution: ``scale`` -------------------------------------------------------

@register("superres", "bicubic")
def bicubic(image: Tensor, *, scale: int, **_) -> Tensor:
    return resize(image, image.shape[1] * scale, image.shape[2] * scale, "bicubic")


@register("superres", "lanczos")
def lanczos(image: Tensor, *, scale: int, **_) -> Tensor:
    return resize(image, image.shape[1] * scale, image.shape[2] * scale, "lanczos")


def run_baseline(task: str, name: str, image: Tensor, **inputs) -> tuple[Tensor, float]:
    """(the restored photo, seconds) of one method."""
    if name not in BASELINES.get(task, {}):
        raise GankitError(f"no baseline {name!r} for {task}; there are: {', '.join(BASELINES.get(task, {}))}")
    started = time.perf_counter()
    out = BASELINES[task][name](image, **inputs)
    return out, time.perf_counter() - started
