"""Where a detector's images come from: a dataset split, a GAN run folder, or image files (a folder of
them can stand for a generator it is tested on, e.g. CycleGAN translations).

All of them end as uint8 (N, C, H, W), what a saved PNG holds: generated images are rounded
to 8 bits like real ones, so a detector cannot tell them apart by float precision alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from gankit.data import load_dataset
from gankit.data.folder import image_files, load_image
from gankit.errors import DataError, GankitError
from gankit.evaluate import generate
from gankit.sampling import LoadedGenerator, load_generator

__all__ = ["EVAL_NOISE_SEED", "folder_images", "generated_images", "is_image_folder", "load_fake_source",
           "read_image_files", "real_images", "to_float", "to_uint8"]

#: noise seed of every evaluation sample (the samples `gankit evaluate` scores); training fakes use others
EVAL_NOISE_SEED = 0


def to_uint8(x: Tensor) -> Tensor:
    """A generator's [-1, 1] output as 8-bit pixels."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


def to_float(x: Tensor) -> Tensor:
    """8-bit pixels as the [-1, 1] input of the detector."""
    return x.float() / 127.5 - 1.0


def real_images(dataset: str, split: str, n: int | None, seed: int, root: str | Path | None) -> Tensor:
    """``n`` images of a split (a random subset from ``seed``; None: all), uint8."""
    data = load_dataset(dataset, root=None if dataset == "digits" else root, split=split, n=n, seed=seed)
    if not data.is_image:
        raise DataError(f"{dataset} is not an image dataset: a detector tells real images from generated ones")
    return data.x


def load_fake_source(run: str | Path) -> LoadedGenerator:
    """The generator of a GAN run folder (or checkpoint), with the run named in any error."""
    path = Path(run)
    if not path.exists():
        raise GankitError(f"fake: {path} does not exist; expected a GAN run folder or checkpoint")
    return load_generator(path)


def generated_images(gen: LoadedGenerator, n: int, seed: int) -> Tensor:
    """``n`` samples of ``gen`` from noise seeded with ``seed`` (classes cycle when conditional), uint8."""
    return to_uint8(generate(gen, n, seed))


def read_image_files(paths: list[str | Path], shape: tuple[int, int, int]) -> tuple[list[Path], Tensor, int]:
    """Image files (folders: the images in them) as uint8 of ``shape`` (C, S, S).

    Returns the files, the images, and how many had another size (center-cropped and resized,
    which a detector may take for a trace of its own)."""
    files = image_files([Path(p) for p in paths], recursive=True)
    channels, size, _ = shape
    mode = "L" if channels == 1 else "RGB"
    resized, images = 0, []
    for f in files:
        try:
            with Image.open(f) as opened:
                resized += opened.size != (size, size)
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"cannot read image {f}: {exc}") from None
        images.append(torch.from_numpy(load_image(f, size, mode).copy()))
    return files, torch.stack(images), resized


def is_image_folder(path: str | Path) -> bool:
    """A folder of images rather than a run folder (which holds checkpoints/)."""
    path = Path(path)
    return path.is_dir() and not (path / "checkpoints").is_dir()


def folder_images(path: str | Path, n: int, shape: tuple[int, int, int], seed: int) -> Tensor:
    """At most ``n`` images of a folder (a random subset from ``seed`` when there are more), uint8 of
    ``shape``. Images of another size are refused: resizing leaves a trace a detector could score."""
    files, images, resized = read_image_files([path], shape)
    if resized:
        raise DataError(f"{path}: {resized} of {len(files)} images are not {shape[1]}x{shape[2]}; a detector "
                        f"tested on resized images would be scored on the resizing; give images of that size")
    if len(images) > n:
        images = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    return images
