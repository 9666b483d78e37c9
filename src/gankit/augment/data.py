"""The labelled subset (balanced, drawn per seed, recorded) and the images the arms are tested on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.augment.config import AugmentConfig
from gankit.data import Dataset, load_dataset
from gankit.data.folder import EXTENSIONS, list_images, load_image
from gankit.errors import DataError
from gankit.semisup.data import balanced_labeled_indices


@dataclass
class LabelledData:
    """uint8 images (N, C, H, W) and labels: the labelled subset and the test images."""

    train: Dataset            # the labelled subset, the only labels anything trains on
    indices: list[int]        # its positions in the pool it was drawn from
    test: Dataset
    pool: str                 # where the subset was drawn from, in words
    test_source: str          # where the test images come from, in words


def load_labelled(cfg: AugmentConfig) -> LabelledData:
    """``cfg.labels`` images, the same number per class, drawn with ``cfg.seed`` (any machine draws the same)."""
    if cfg.dataset == "folder":
        return _from_folder(cfg)
    train = load_dataset(cfg.dataset, root=cfg.data_root, split="train")
    test = load_dataset(cfg.dataset, root=cfg.data_root, split="test")
    idx = _draw(train.y, cfg.labels, train.class_names or [str(k) for k in range(train.num_classes)], cfg.seed,
                f"the {cfg.dataset} training split")
    return LabelledData(train.subset(idx), idx.tolist(), test, f"the {cfg.dataset} training split",
                        f"the official {cfg.dataset} test split ({len(test)} images)")


def _draw(y: Tensor, labels: int, class_names: list[str], seed: int, pool: str) -> Tensor:
    if labels > len(y):
        raise DataError(f"labels: {labels} labelled images asked for, but {pool} holds only {len(y)}")
    return balanced_labeled_indices(y, labels, len(class_names), seed, class_names)   # names a class with too few


def _class_files(root: Path, what: str) -> tuple[list[Path], list[int], list[str]]:
    if not root.is_dir():
        raise DataError(f"{what}: {root} is not a folder")
    empty = [d.name for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
             and not any(p.suffix.lower() in EXTENSIONS for p in d.rglob("*") if p.is_file())]
    if empty:
        raise DataError(f"{what}: class folder(s) {', '.join(map(repr, empty))} of {root} hold no images "
                        f"({', '.join(sorted(EXTENSIONS))}); remove them or add images")
    files, labels, classes = list_images(root)
    if labels is None:
        raise DataError(f"{what}: {root} needs one sub-folder per class (e.g. {root}/cat/1.png); "
                        f"it holds {len(files)} images and no class folders")
    if len(classes) < 2:
        raise DataError(f"{what}: {root} has one class folder ({classes[0]!r}); a classifier needs at least two")
    return files, labels, classes


def _read(files: list[Path], labels: list[int], classes: list[str], cfg: AugmentConfig) -> Dataset:
    mode = "L" if cfg.channels == 1 else "RGB"
    x = torch.from_numpy(np.stack([load_image(f, cfg.image_size, mode) for f in files]))
    return Dataset(x=x, y=torch.tensor(labels, dtype=torch.int64), num_classes=len(classes), name="folder",
                   class_names=classes)


def _from_folder(cfg: AugmentConfig) -> LabelledData:
    root = Path(cfg.folder).expanduser()
    files, labels, classes = _class_files(root, "folder")
    idx = _draw(torch.tensor(labels), cfg.labels, classes, cfg.seed, f"{root} ({len(classes)} classes)")
    chosen = set(idx.tolist())
    train = _read([files[i] for i in idx.tolist()], [labels[i] for i in idx.tolist()], classes, cfg)
    if cfg.test_folder:
        test_root = Path(cfg.test_folder).expanduser()
        t_files, t_labels, t_classes = _class_files(test_root, "test_folder")
        if t_classes != classes:
            raise DataError(f"test_folder: its classes {t_classes} differ from the classes of {root}: {classes}")
        where = f"{test_root} ({len(t_files)} images)"
    else:   # the images outside the labelled subset: never trained on
        rest = [i for i in range(len(files)) if i not in chosen]
        if not rest:
            raise DataError(f"folder: every image of {root} is in the labelled subset; give a test_folder "
                            f"or ask for fewer labels")
        t_files, t_labels = [files[i] for i in rest], [labels[i] for i in rest]
        where = f"the {len(rest)} images of {root} outside the labelled subset"
    return LabelledData(train, idx.tolist(), _read(t_files, t_labels, classes, cfg), str(root), where)
