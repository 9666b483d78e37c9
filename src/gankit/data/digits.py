"""scikit-learn's embedded 8x8 digits: a real image dataset that needs no files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

TRAIN_SIZE = 1500  # of 1797; the remaining 297 are the test split
SPLIT_SEED = 0  # fixed: the split must not move with the run's seed
N_DIGITS = 1797


def _digits_csv() -> Path | None:
    """scikit-learn's digits.csv.gz, found without importing sklearn (which takes ~2 s)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """Pixel values 0..16 as (1797, 8, 8) floats and labels (1797,)."""
    path = _digits_csv()
    if path is not None:
        try:
            table = np.loadtxt(path, delimiter=",")  # 64 pixels, then the label, per row
            if table.shape == (N_DIGITS, 65):
                return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
        except (OSError, ValueError):
            pass  # a changed private layout: fall back to the public API
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target.astype(np.int64)


def load_digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images uint8 (N, 1, 8, 8) scaled from 0..16 to 0..255, labels int64, class names."""
    images, labels = _raw_digits()
    images = np.rint(images * (255.0 / 16.0)).astype(np.uint8)  # 16 -> 255 exactly
    order = np.random.RandomState(SPLIT_SEED).permutation(len(images))
    rows = order[:TRAIN_SIZE] if split == "train" else order[TRAIN_SIZE:]
    x = torch.from_numpy(images[rows][:, None].copy())
    y = torch.from_numpy(labels[rows])
    return x, y, [str(d) for d in range(10)]
