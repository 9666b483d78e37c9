"""What happens to an image between a generator and a detector: JPEG, blur, resizing.

Every function takes and returns uint8 images (N, C, H, W), what a saved file holds, so a
perturbation is applied to real and generated images alike and rounds the same way.

* :func:`blur_jpeg` is the training augmentation of Wang et al. 2020 ("CNN-generated images
  are surprisingly easy to spot... for now", https://arxiv.org/abs/1912.11035): Gaussian blur
  with probability p, then JPEG with probability p, each image drawing its own sigma and quality.
* :data:`PERTURBATIONS` are the fixed evaluation conditions: JPEG quality 75 and 50, Gaussian blur
  sigma 1, and a resize by 0.5 (down to half size and back: the detector takes a fixed size).
"""

from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.transform import resize_uint8

__all__ = ["PERTURBATIONS", "blur_jpeg", "gaussian_blur", "jpeg", "resize"]


def _jpeg_one(image: Tensor, quality: int) -> Tensor:
    # OpenCV's libjpeg: the same bytes as PIL's, ten times faster on 28x28 images
    arr = image.numpy()
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)[:, :, ::-1]   # OpenCV wants BGR
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(arr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    out = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return torch.from_numpy(out[None] if out.ndim == 2 else out[:, :, ::-1].transpose(2, 0, 1).copy())


def jpeg(images: Tensor, quality: int | Tensor) -> Tensor:
    """Each image encoded as JPEG at ``quality`` (one int, or one per image) and decoded (libjpeg through OpenCV)."""
    qualities = quality.tolist() if torch.is_tensor(quality) else [quality] * len(images)
    if not len(images):
        return images.clone()
    return torch.stack([_jpeg_one(img, int(q)) for img, q in zip(images.cpu(), qualities)]).to(images.device)


def gaussian_blur(images: Tensor, sigma: float | Tensor) -> Tensor:
    """Each image convolved with a Gaussian of std ``sigma`` pixels (one, or one per image; 0 = unchanged).

    Separable, truncated at 3 sigma, borders reflected (OpenCV's default border).
    """
    n, c, h, w = images.shape
    sigmas = sigma.float() if torch.is_tensor(sigma) else torch.full((n,), float(sigma))
    radius = min(max(1, math.ceil(3 * float(sigmas.max()) if n else 1)), h - 1, w - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    safe = sigmas.clamp_min(1e-6)[:, None]
    kernels = torch.exp(-offsets[None] ** 2 / (2 * safe ** 2))
    kernels = torch.where(sigmas[:, None] > 0, kernels, (offsets[None] == 0).float())   # sigma 0: identity
    kernels = (kernels / kernels.sum(1, keepdim=True)).repeat_interleave(c, 0)          # (n * c, k)
    x = images.float().reshape(1, n * c, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernels[:, None, None, :], groups=n * c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernels[:, None, :, None], groups=n * c)
    return x.reshape(n, c, h, w).round_().clamp_(0, 255).to(torch.uint8)


def resize(images: Tensor, factor: float) -> Tensor:
    """Down (or up) by ``factor`` and back to the original size, bilinear with antialiasing."""
    side = images.shape[-1]
    small = max(1, round(side * factor))
    return resize_uint8(resize_uint8(images, small), side)


def blur_jpeg(images: Tensor, generator: torch.Generator, *, blur_prob: float, blur_sigma_max: float,
              jpeg_prob: float, jpeg_quality: tuple[int, int]) -> Tensor:
    """Wang et al.'s augmentation: blur (sigma ~ U[0, max]) with ``blur_prob``, then JPEG (quality ~
    U{lo..hi}) with ``jpeg_prob``. Draws the same amount of randomness whatever it decides, so the
    stream (and a resumed run) stays in step."""
    n = len(images)
    blurred = torch.rand(n, generator=generator) < blur_prob
    sigma = torch.rand(n, generator=generator) * blur_sigma_max * blurred
    compressed = torch.rand(n, generator=generator) < jpeg_prob
    quality = torch.randint(jpeg_quality[0], jpeg_quality[1] + 1, (n,), generator=generator)
    out = gaussian_blur(images, sigma) if bool(blurred.any()) else images.clone()
    if bool(compressed.any()):
        out[compressed] = jpeg(out[compressed], quality[compressed])
    return out


#: evaluation conditions, by the name the reports use
PERTURBATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "clean": lambda x: x,
    "jpeg 75": lambda x: jpeg(x, 75),
    "jpeg 50": lambda x: jpeg(x, 50),
    "blur 1": lambda x: gaussian_blur(x, 1.0),
    "resize 0.5": lambda x: resize(x, 0.5),
}
