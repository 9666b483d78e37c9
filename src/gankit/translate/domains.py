"""The two image collections a translation runs between, as in-memory uint8 tensors.

A domain is a built-in name or an image folder:

* ``mnist``: the MNIST digits;
* ``digits``: scikit-learn's 8x8 handwritten digits (another population of writers, another
  scanner), brought to the frame size like every domain;
* ``mnist-m``: MNIST digits blended onto random crops of the photos that ship inside
  scikit-image, |crop - digit| per colour channel (Ganin et al. 2016's construction). Crop
  positions and photos come from a seed, so the domain is reproducible;
* a folder laid out as the official CycleGAN datasets are: ``ROOT/trainA``, ``ROOT/trainB``,
  ``ROOT/testA``, ``ROOT/testB`` (give ``ROOT`` as the domain and ``A`` or ``B`` as its side).

The built-in domains keep their digit labels for scoring; folders have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data import load_dataset
from gankit.data.folder import load_folder
from gankit.data.transform import resize_uint8, set_channels
from gankit.errors import DataError

BUILT_IN = ("mnist", "digits", "mnist-m")
# scikit-image's photos that load offline (skimage.data); colour and grey ones alike
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel", "camera", "hubble_deep_field",
          "immunohistochemistry", "moon", "coins", "retina", "page", "text")


@dataclass(eq=False)
class Domain:
    name: str
    x: torch.Tensor                  # uint8 (N, C, S, S)
    y: torch.Tensor | None           # digit labels, or None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def load_domain(name: str, split: str, image_size: int, channels: int, side: str = "A", root=None,
                limit: int | None = None, seed: int = 0) -> Domain:
    """Domain ``name`` ('mnist', 'digits', 'mnist-m' or a folder) at ``image_size`` with ``channels``."""
    if name in ("mnist", "mnist-m"):
        ds = load_dataset("mnist", root=root, split=split)
        x, y = ds.x, ds.y
        if limit is not None:
            x, y = x[:limit], y[:limit]
        if name == "mnist-m":
            x = blend_onto_photos(resize_uint8(x, image_size), seed=seed * 2 + (split == "test"))
    elif name == "digits":
        ds = load_dataset("digits", split=split)
        x, y = ds.x, ds.y
        if limit is not None:
            x, y = x[:limit], y[:limit]
    else:
        x, y = _folder(name, split, side, image_size, channels, limit, seed)
    x = resize_uint8(x, image_size)
    if x.shape[1] != channels:
        x = set_channels(x, channels, name)
    return Domain(name, x, y)


def _folder(root: str, split: str, side: str, image_size: int, channels: int, limit: int | None, seed: int):
    folder = Path(root).expanduser() / f"{split}{side}"
    if not folder.is_dir():
        raise DataError(f"domain {root}: {folder} is not a folder (expected {root}/trainA, trainB, testA, testB "
                        f"as in the official CycleGAN datasets, or one of {', '.join(BUILT_IN)})")
    x, _, _ = load_folder(folder, image_size, channels)
    return (x if limit is None else x[:limit]), None


def photos() -> list[np.ndarray]:
    """scikit-image's sample photos as RGB uint8 arrays (grey ones repeated over the channels)."""
    from skimage import data
    out = []
    for name in PHOTOS:
        image = np.asarray(getattr(data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        out.append(image[..., :3].astype(np.uint8))
    return out


def blend_onto_photos(digits: torch.Tensor, seed: int) -> torch.Tensor:
    """MNIST-M: each grey digit (N, 1, S, S) blended with a random photo crop: |crop - digit| per channel."""
    rng = np.random.default_rng(1_000_000_007 + seed)
    pool = photos()
    n, _, size, _ = digits.shape
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    grey = digits[:, 0].numpy().astype(np.int16)
    for i in range(n):
        photo = pool[rng.integers(len(pool))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        crop = photo[top:top + size, left:left + size].astype(np.int16).transpose(2, 0, 1)
        out[i] = np.abs(crop - grey[i][None]).astype(np.uint8)
    return torch.from_numpy(out)


def check_domain(domain: Domain, label: str) -> None:
    if len(domain) == 0:
        raise DataError(f"{label}: domain {domain.name} holds no images")
