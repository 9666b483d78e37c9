"""Two baselines beside the CNN, fitted on the same training images.

* :class:`SpectrumLogistic`: logistic regression on the log-magnitude Fourier spectrum. GAN
  upsampling leaves periodic traces that show as peaks in the spectrum (Durall et al. 2020,
  https://arxiv.org/abs/2003.01826; Frank et al. 2020, https://arxiv.org/abs/2003.08685, whose
  linear model on the log spectrum already separates many GANs).
* :class:`PixelNearestNeighbours`: k nearest neighbours on raw pixels (k = 5, so its score is the
  share of generated images among the neighbours and has an AP). A check of what "looks like
  the training fakes" buys without any learnt feature.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from gankit.detect.perturb import blur_jpeg

__all__ = ["BASELINES", "PixelNearestNeighbours", "SpectrumLogistic", "fit_baselines", "log_spectrum"]


def log_spectrum(images: Tensor) -> np.ndarray:
    """log(|FFT2| + 1e-3) of each image's grey level in [0, 1] (the real FFT's half plane), flattened."""
    grey = images.float().mean(1) / 255.0
    return torch.log(torch.fft.rfft2(grey).abs() + 1e-3).flatten(1).numpy()


class SpectrumLogistic:
    """Standardized log spectrum -> L2-regularised logistic regression (C = 1)."""

    name = "spectrum LR"

    def __init__(self, seed: int = 0):
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))

    def fit(self, images: Tensor, labels: Tensor) -> "SpectrumLogistic":
        self.model.fit(log_spectrum(images), labels.numpy().astype(int))
        return self

    def scores(self, images: Tensor) -> np.ndarray:
        return self.model.predict_proba(log_spectrum(images))[:, 1]


class PixelNearestNeighbours:
    """Share of generated images among the k nearest training images (Euclidean, pixels in [0, 1])."""

    name = "pixel 5-NN"

    def __init__(self, k: int = 5, chunk: int = 1000):
        self.k, self.chunk = k, chunk

    @staticmethod
    def _pixels(images: Tensor) -> Tensor:
        return images.float().flatten(1) / 255.0

    def fit(self, images: Tensor, labels: Tensor) -> "PixelNearestNeighbours":
        self.train, self.labels = self._pixels(images), labels.float()
        self.train_sq = (self.train ** 2).sum(1)
        return self

    @torch.no_grad()
    def scores(self, images: Tensor) -> np.ndarray:
        # |q - t|^2 = |q|^2 + |t|^2 - 2 q.t as float32 matrix products (sklearn works in float64)
        out = []
        for part in self._pixels(images).split(self.chunk):
            dist = self.train_sq[None] - 2 * part @ self.train.T   # |q|^2 is the same for every t: left out
            nearest = dist.topk(min(self.k, len(self.train)), dim=1, largest=False).indices
            out.append(self.labels[nearest].mean(1))
        return torch.cat(out).numpy() if out else np.zeros(0)


#: baseline name -> a factory taking the seed
BASELINES = {SpectrumLogistic.name: lambda seed: SpectrumLogistic(seed),
             PixelNearestNeighbours.name: lambda seed: PixelNearestNeighbours()}


def fit_baselines(images: Tensor, labels: Tensor, augment: dict, seed: int) -> dict:
    """Every baseline fitted on the detector's training images, each blurred / JPEG-compressed once
    as the CNN's augmentation would (one pass: same data, same perturbations, no repeated epochs)."""
    seen = blur_jpeg(images, torch.Generator().manual_seed(seed), **augment)
    return {name: make(seed).fit(seen, labels) for name, make in BASELINES.items()}
