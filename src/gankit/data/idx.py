"""MNIST and Fashion-MNIST: the official gzip IDX files, parsed and checked here."""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.errors import DataError

IMAGES_MAGIC = 2051  # 0x0803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x0801: unsigned bytes, 1 dimension

# split -> (images file, labels file), names without the .gz suffix
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class IdxSource:
    folder: str  # sub-folder of the data root
    url: str  # official download location of the .gz files
    gz_md5: dict[str, str]  # md5 of the official .gz archives (checked after download)
    raw_md5: dict[str, str]  # md5 of the decompressed IDX bytes (checked on every load)
    class_names: list[str]


# The loader checks the decompressed bytes, not the .gz: re-compressed copies
# (e.g. Debian's packages, the ones in ../shared/data) differ byte-wise as gzip
# but hold the identical official data.
SOURCES: dict[str, IdxSource] = {
    "mnist": IdxSource(
        folder="mnist",
        url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        gz_md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        raw_md5={
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
        class_names=[str(d) for d in range(10)],
    ),
    "fashion-mnist": IdxSource(
        folder="fashion-mnist",
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        gz_md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        raw_md5={
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        class_names=["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    ),
}


def _find(folder: Path, stem: str) -> Path | None:
    """The .gz file, or an already-decompressed copy next to it."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _missing_message(name: str, root: Path, missing: list[Path]) -> str:
    src = SOURCES[name]
    paths = ", ".join(str(p) for p in missing)
    return (
        f"{name}: dataset file(s) not found: {paths}. "
        f"Get the official files from {src.url} (online, `gankit download {name}` "
        f"does it), or point --data-root / $GANKIT_DATA at a folder that contains "
        f"{src.folder}/ (the data root now is {root})."
    )


def read_idx_bytes(path: Path) -> bytes:
    """The IDX bytes of ``path``, decompressing .gz files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # truncated or damaged stream
        raise DataError(f"{path} is corrupt: not a valid gzip file ({exc}); "
                        f"delete it and get it again") from exc


def parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """Decode IDX bytes (big-endian header, uint8 payload) into an array, checking every size."""
    if len(data) < 4:
        raise DataError(f"{path} is corrupt: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(f"{path} is not an IDX {kind} file: wrong magic number {found} "
                        f"(expected {magic})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is corrupt: the file ends inside its IDX header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected, payload = math.prod(dims), len(data) - header
    if payload != expected:
        raise DataError(f"{path} is corrupt: its header declares shape {dims} "
                        f"({expected} bytes) but {payload} bytes of data follow "
                        f"({'truncated' if payload < expected else 'extra bytes'})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _check_md5(data: bytes, path: Path, want: str, name: str) -> None:
    got = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if got != want:
        raise DataError(f"{path}: checksum mismatch (md5 of the IDX data is {got}, the "
                        f"official {name} file's is {want}); the file is corrupt or not the "
                        f"official release: delete it and get it again")


def load_idx(name: str, root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images uint8 (N, 1, 28, 28), labels int64 (N,) and class names of one split."""
    src = SOURCES[name]
    folder = root / src.folder
    stems = SPLIT_FILES[split]
    paths = [_find(folder, stem) for stem in stems]
    missing = [folder / f"{stem}.gz" for stem, p in zip(stems, paths, strict=True) if p is None]
    if missing:
        raise DataError(_missing_message(name, root, missing))
    img_path, lab_path = paths
    assert img_path is not None and lab_path is not None

    # Structure first, checksums last: a structural message says more than "md5 differs".
    blobs = [read_idx_bytes(img_path), read_idx_bytes(lab_path)]
    images = parse_idx(blobs[0], img_path, IMAGES_MAGIC)
    labels = parse_idx(blobs[1], lab_path, LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: expected 28x28 images, its header says shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"count mismatch: {img_path} holds {images.shape[0]} images but "
                        f"{lab_path} holds {labels.shape[0]} labels")
    for data, path, stem in zip(blobs, (img_path, lab_path), stems, strict=True):
        _check_md5(data, path, src.raw_md5[stem], name)
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28).copy())  # copy: frombuffer is read-only
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y, list(src.class_names)
