"""The labeled / unlabeled split: a balanced labeled subset drawn per seed, the full training set unlabeled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from gankit.data import load_dataset
from gankit.errors import DataError


def balanced_labeled_indices(labels: Tensor, n_labels: int, num_classes: int, seed: int,
                             class_names: list[str] | None = None) -> Tensor:
    """``n_labels / num_classes`` indices per class, drawn at random with ``seed``; sorted.

    The same (labels, n_labels, seed) always gives the same indices, on any machine:
    the draw uses its own CPU torch.Generator, never the global random state.
    """
    if n_labels % num_classes:
        raise DataError(f"labels: {n_labels} cannot be split evenly over {num_classes} classes; "
                        f"give a multiple of {num_classes}")
    per_class = n_labels // num_classes
    g = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    chosen = []
    for k in range(num_classes):
        members = (labels == k).nonzero().flatten()
        if len(members) < per_class:
            name = f"class {k}" + (f" ({class_names[k]!r})" if class_names else "")
            raise DataError(f"labels: {name} has only {len(members)} training examples, "
                            f"{per_class} are needed for {n_labels} balanced labels")
        chosen.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(chosen).sort().values


def validation_indices(n_train: int, labeled: Tensor, size: int, seed: int) -> Tensor:
    """``size`` training indices outside ``labeled``, drawn at random with ``seed``; sorted.

    Their labels give a validation error to choose settings by (the test set never
    chooses anything); the images stay in the unlabeled pool like every other one.
    """
    free = torch.ones(n_train, dtype=torch.bool)
    free[labeled.cpu()] = False
    if size > int(free.sum()):
        raise DataError(f"val_size: {size} validation images asked for, but only {int(free.sum())} "
                        f"training images are outside the labeled subset")
    g = torch.Generator().manual_seed(1_000_000_007 + seed)  # not the labeled draw's stream
    pool = free.nonzero().flatten()
    return pool[torch.randperm(len(pool), generator=g)[:size]].sort().values


@dataclass
class SemisupData:
    """Images as float [0, 1] rows (N, 784) on the target device; one labeled subset per seed."""

    seeds: tuple[int, ...]
    x_unlabeled: Tensor
    x_labeled: Tensor            # (seeds, labels, 784)
    y_labeled: Tensor            # (seeds, labels)
    labeled_indices: Tensor      # (seeds, labels), into the training set
    x_test: Tensor
    y_test: Tensor
    class_names: list[str]
    image_shape: tuple[int, ...]
    val_indices: Tensor | None = None   # (seeds, val_size) into x_unlabeled: labels used only to validate
    y_val: Tensor | None = None         # (seeds, val_size)


def _rows(ds) -> Tensor:
    return ds.x.flatten(1).float() / 255.0


def load_semisup_data(dataset: str, n_labels: int, seeds: int | Sequence[int], *, root=None,
                      unlabeled_limit: int | None = None, image_size: int | None = None,
                      val_size: int = 0, device: torch.device | str = "cpu") -> SemisupData:
    """Load the train and test splits and draw the labeled subset of the training set for each seed.

    The labeled subsets are drawn from the full training set; the unlabeled pool is
    the full training set (it includes the labeled images, as in the paper) or,
    with ``unlabeled_limit``, its first N images (for quick tests). ``image_size``
    resizes every image (the test images too). ``val_size`` > 0 draws, per seed, that many
    images of the unlabeled pool outside the labeled subset whose labels serve only to
    report a validation error (see validation_indices).
    """
    train = load_dataset(dataset, root=root, split="train", image_size=image_size)
    test = load_dataset(dataset, root=root, split="test", image_size=image_size)
    seeds = (seeds,) if isinstance(seeds, int) else tuple(seeds)
    idx = torch.stack([balanced_labeled_indices(train.y, n_labels, train.num_classes, s) for s in seeds])
    x_train = _rows(train)
    unlabeled = x_train if unlabeled_limit is None else x_train[:unlabeled_limit]
    val_idx = y_val = None
    if val_size:
        val_idx = torch.stack([validation_indices(len(unlabeled), i[i < len(unlabeled)], val_size, s)
                               for i, s in zip(idx, seeds)])
        y_val = train.y[val_idx].to(device)
        val_idx = val_idx.to(device)
    return SemisupData(
        seeds=seeds, x_unlabeled=unlabeled.to(device), x_labeled=x_train[idx].to(device),
        y_labeled=train.y[idx].to(device),
        labeled_indices=idx, x_test=_rows(test).to(device), y_test=test.y.to(device),
        class_names=list(train.class_names or [str(k) for k in range(train.num_classes)]),
        image_shape=tuple(train.sample_shape), val_indices=val_idx, y_val=y_val)
