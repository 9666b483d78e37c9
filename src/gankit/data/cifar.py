"""CIFAR-10 from the official binary release (fixed-size records; nothing is unpickled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
FOLDER = "cifar-10-batches-bin"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
SPLIT_FILES = {
    "train": [f"data_batch_{i}.bin" for i in range(1, 6)],
    "test": ["test_batch.bin"],
}
RECORD_BYTES = 1 + 3 * 32 * 32  # label byte, then 1024 R, 1024 G, 1024 B, each row-major
RECORDS_PER_FILE = 10_000
FILE_BYTES = RECORD_BYTES * RECORDS_PER_FILE  # 30_730_000


def candidate_folders(root: Path) -> list[Path]:
    """Where the extracted archive may sit: directly under the root, or under cifar10/."""
    return [root / FOLDER, root / "cifar10" / FOLDER]


def _missing_message(root: Path, missing: list[Path]) -> str:
    paths = ", ".join(str(p) for p in missing)
    return (
        f"cifar10: dataset file(s) not found: {paths}. "
        f"Download cifar-10-binary.tar.gz (the binary version) from "
        f"https://www.cs.toronto.edu/~kriz/cifar.html and extract it under {root} "
        f"(giving {root / FOLDER}/ or {root / 'cifar10' / FOLDER}/), or run "
        f"`gankit download cifar10` on a machine that is online, or point "
        f"--data-root / $GANKIT_DATA at the folder that holds {FOLDER}/."
    )


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images uint8 (10000, 3, 32, 32) and labels uint8 (10000,)."""
    try:
        size = path.stat().st_size
        if size != FILE_BYTES:  # checked before reading: a wrong file may be huge
            raise DataError(
                f"{path} is corrupt: {size} bytes, but a CIFAR-10 batch file is exactly "
                f"{FILE_BYTES} bytes ({RECORDS_PER_FILE} records of {RECORD_BYTES} bytes); "
                f"extract it again from cifar-10-binary.tar.gz"
            )
        records = np.fromfile(path, dtype=np.uint8).reshape(RECORDS_PER_FILE, RECORD_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    labels = records[:, 0]
    if labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{path} is corrupt: label byte {int(labels.max())} is not a class "
                        f"(0..9); is it a CIFAR-100 file?")
    return records[:, 1:].reshape(RECORDS_PER_FILE, 3, 32, 32), labels


def load_cifar10(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images uint8 (N, 3, 32, 32), labels int64 (N,) and class names of one split."""
    names = SPLIT_FILES[split]
    folders = candidate_folders(root)
    # Use the first location that has every file of the split.
    folder = next((f for f in folders if all((f / n).is_file() for n in names)), None)
    if folder is None:
        # Report the files missing from the location that looks most complete.
        best = max(folders, key=lambda f: sum((f / n).is_file() for n in names))
        missing = [best / n for n in names if not (best / n).is_file()]
        raise DataError(_missing_message(root, missing))
    batches = [read_batch(folder / n) for n in names]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y), list(CLASS_NAMES)
