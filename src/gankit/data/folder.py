"""A folder of image files, optionally one sub-folder per class."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.data.transform import check_image_size, sample_rows
from gankit.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
DEFAULT_SIZE = 64


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")  # skip .DS_Store, .ipynb_checkpoints and the like


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in found
        if p.is_file() and p.suffix.lower() in EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def image_files(paths: list[Path], recursive: bool = False) -> list[Path]:
    """The image files named and those inside the folders named, in order (sub-folders too with
    ``recursive``); a missing path or a folder without images is an error naming it."""
    found = []
    for path in paths:
        if path.is_dir():
            inside = _images_in(path, recursive)
            if not inside:
                raise DataError(f"{path}: no images in this folder (looked for {', '.join(sorted(EXTENSIONS))})")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path} does not exist")
    return found


def list_images(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """Image files with class indices from the sub-folder names, or (files, None, None) if flat."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and _visible(d))
    per_class = {d.name: _images_in(d, recursive=True) for d in subdirs}
    classes = [name for name, files in per_class.items() if files]
    top = _images_in(root, recursive=False)
    if not classes:
        return top, None, None
    if top:
        warnings.warn(f"{root}: {len(top)} image(s) directly in the folder are ignored, "
                      f"because its sub-folders define the classes {classes}", stacklevel=3)
    files, labels = [], []
    for index, name in enumerate(classes):
        files += per_class[name]
        labels += [index] * len(per_class[name])
    return files, labels, classes


def load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """One file -> uint8 (C, size, size): center square crop, then a LANCZOS resize."""
    try:
        with Image.open(path) as opened:
            img: Image.Image = ImageOps.exif_transpose(opened)  # phones store rotation in EXIF
            if img.mode in ("P", "PA"):
                img = img.convert("RGBA")  # avoids PIL's palette-transparency warning
            img = img.convert(mode)
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
            img = img.resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_folder(
    path: str | Path | None,
    image_size: int | None,
    channels: int | None,
    n: int | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
    """Images of ``path`` as uint8 (N, C, S, S), labels (or None) and class names.

    With ``n``, a random subset of ``n`` files (from ``seed``) is decoded, not all of them.
    """
    if path is None:
        raise DataError("the 'folder' dataset needs path=<a folder of images> (CLI: --path)")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"folder dataset: {root} is not a folder")
    channels = 3 if channels is None else channels
    if channels not in (1, 3):
        raise DataError(f"folder dataset: channels must be 1 or 3, got {channels!r}")
    check_image_size(image_size)
    size = DEFAULT_SIZE if image_size is None else image_size
    files, labels, classes = list_images(root)
    if not files:
        raise DataError(f"folder dataset: no images in {root} (looked for "
                        f"{', '.join(sorted(EXTENSIONS))}, also one level of class sub-folders)")
    rows = sample_rows(len(files), n, seed, "folder")
    if rows is not None:  # choose before decoding: decoding is the slow part
        files = [files[i] for i in rows.tolist()]
        labels = None if labels is None else [labels[i] for i in rows.tolist()]
    mode = "L" if channels == 1 else "RGB"
    x = torch.from_numpy(np.stack([load_image(f, size, mode) for f in files]))
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    return x, y, classes
