"""Datasets as in-memory tensors: MNIST, Fashion-MNIST, CIFAR-10, image folders,
scikit-learn digits and toy 2-D mixtures, behind one ``load_dataset`` call."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.data import cifar, idx
from gankit.data.dataset import Dataset
from gankit.data.digits import load_digits_split
from gankit.data.fetch import download
from gankit.data.folder import load_folder
from gankit.data.root import resolve_data_root
from gankit.data.toy import sample_toy, toy_modes, toy_std
from gankit.data.transform import finish_images
from gankit.errors import DataError

__all__ = [
    "DATASETS",
    "SPLITS",
    "Dataset",
    "download",
    "load_dataset",
    "resolve_data_root",
    "toy_modes",
    "toy_std",
]

# name -> one-line description (CLI help and error messages)
DATASETS: dict[str, str] = {
    "mnist": "MNIST handwritten digits, 28x28 grey, 60k train / 10k test "
             "(files under <root>/mnist/)",
    "fashion-mnist": "Fashion-MNIST clothing, 28x28 grey, 60k train / 10k test "
                     "(files under <root>/fashion-mnist/)",
    "cifar10": "CIFAR-10, 32x32 colour, 10 classes, 50k train / 10k test "
               "(binary release under <root>/cifar-10-batches-bin/)",
    "folder": "your own images from --path (sub-folders = classes), square-cropped, "
              "64x64 by default",
    "digits": "scikit-learn's 8x8 digits, built in: 1500 train / 297 test",
    "ring8": "toy 2-D: 8 Gaussians on a circle of radius 2, std 0.02 (Unrolled GAN)",
    "grid25": "toy 2-D: 25 Gaussians on a 5x5 grid, std 0.05 (VEEGAN)",
}
SPLITS = ("train", "test")
_TOYS = ("ring8", "grid25")


def _names() -> str:
    return ", ".join(DATASETS)


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    path: str | Path | None = None,
    n: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load dataset ``name`` (a key of DATASETS) as tensors on the CPU.

    root: data folder (see resolve_data_root). split: "train" or "test".
    image_size / channels: resize images to image_size x image_size, make them 1- or
    3-channel (default: the dataset's own; 64 and 3 for "folder"). path: the image
    folder for "folder". n: number of samples: for toy sets how many to draw, for
    image sets a random subset of that size. seed: drives n's subset and toy samples.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {_names()}")
    if split not in SPLITS:
        raise DataError(f"{name}: unknown split {split!r}; use one of {', '.join(SPLITS)}")

    if name in _TOYS:
        if image_size is not None or channels is not None:
            raise DataError(f"{name} is a set of 2-D points: image_size and channels do not apply")
        points, modes = sample_toy(name, split, n, seed)
        return Dataset(x=points, y=modes, num_classes=len(toy_modes(name)), name=name)

    y: torch.Tensor | None
    if name == "folder":
        if split != "train":
            raise DataError("the 'folder' dataset has no splits; point path at the folder "
                            "you want (e.g. a separate test folder) and use split='train'")
        x, y, classes = load_folder(path, image_size, channels, n=n, seed=seed)
        return Dataset(x=x, y=y, num_classes=len(classes or []), name=name, class_names=classes)

    if path is not None:
        raise DataError(f"{name}: path is only for the 'folder' dataset; "
                        f"use root for the data folder")
    if name in idx.SOURCES:
        x, y, classes = idx.load_idx(name, resolve_data_root(root), split)
    elif name == "cifar10":
        x, y, classes = cifar.load_cifar10(resolve_data_root(root), split)
    else:  # digits
        x, y, classes = load_digits_split(split)
    x, y = finish_images(x, y, name=name, n=n, seed=seed, image_size=image_size, channels=channels)
    return Dataset(x=x, y=y, num_classes=len(classes), name=name, class_names=classes)
