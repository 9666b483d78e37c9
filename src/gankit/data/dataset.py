"""The in-memory dataset every trainer and metric works on: tensors, not a DataLoader."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(eq=False)  # eq=False: comparing tensors with == is not a bool
class Dataset:
    """A whole dataset held as tensors.

    ``x`` is uint8 ``(N, C, H, W)`` for images (kept as bytes: a quarter of the
    memory of float, and exact) or float32 ``(N, D)`` for points. ``y`` holds
    int64 labels or is None.
    """

    x: torch.Tensor
    y: torch.Tensor | None
    num_classes: int
    name: str
    class_names: list[str] | None = None

    def __post_init__(self) -> None:
        # Programming errors, not user-file errors: plain ValueError.
        if self.y is not None and self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y has shape {tuple(self.y.shape)}, expected ({self.x.shape[0]},)")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{len(self.class_names)} class names for {self.num_classes} classes"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:  # the dataclass default would print every pixel
        y = "None" if self.y is None else f"{tuple(self.y.shape)} {self.y.dtype}"
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, sample_shape={self.sample_shape}, "
            f"x={self.x.dtype} on {self.x.device}, y={y}, num_classes={self.num_classes})"
        )

    @property
    def is_image(self) -> bool:
        return self.x.dtype == torch.uint8 and self.x.ndim == 4

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        y = None if self.y is None else self.y.to(device)
        return dataclasses.replace(self, x=self.x.to(device), y=y)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows ``idx`` as model input: images scaled to [-1, 1] float32, points as float32."""
        x = self.x[idx]
        x = x.float() / 127.5 - 1.0 if self.is_image else x.float()
        return x, None if self.y is None else self.y[idx]

    def subset(self, idx: Any) -> Dataset:
        """A new Dataset with rows ``idx`` (tensor, list, array, slice or bool mask)."""
        if isinstance(idx, int):  # keep the batch dimension
            idx = [idx]
        if isinstance(idx, (list, tuple, np.ndarray)):
            idx = torch.as_tensor(np.asarray(idx))
        if isinstance(idx, torch.Tensor):
            idx = idx.to(self.x.device)
        y = None if self.y is None else self.y[idx]
        return dataclasses.replace(self, x=self.x[idx], y=y)
