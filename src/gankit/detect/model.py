"""The detector network, loading it from a run folder, and scoring images with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit import checkpoint
from gankit.detect.images import to_float
from gankit.errors import GankitError
from gankit.metrics.backbones import DomainClassifier

__all__ = ["CNNScorer", "build_detector", "load_detector"]


def build_detector(shape: tuple[int, ...], *, width: int, feature_dim: int, dropout: float) -> DomainClassifier:
    """gankit's small domain CNN with one output: the logit of "generated"."""
    c, h, w = shape
    if h != w or h % 4:
        raise GankitError(f"the detector takes square images whose side is a multiple of 4, got {h}x{w}")
    model = DomainClassifier(in_channels=c, image_size=h, num_classes=1, width=width, feature_dim=feature_dim,
                             dropout=dropout)
    return model.to(memory_format=torch.channels_last)   # faster convolutions on the CPU


def load_detector(path: str | Path) -> tuple[DomainClassifier, dict]:
    """The detector of a run folder or checkpoint (eval mode), and its checkpoint record."""
    json_path = checkpoint.find_checkpoint(path)
    record, tensors = checkpoint.read_checkpoint(json_path)
    if record.get("kind") != "detector":
        kind = record.get("kind") or ("a GAN" if any(k.startswith("G/") for k in tensors) else "another")
        raise GankitError(f"{json_path} is not a detector checkpoint (it holds {kind} model); "
                          "train one with `gankit detect train`")
    args = checkpoint.record_field(record, "model", json_path, lambda v: isinstance(v, dict),
                                   "the detector's constructor arguments")
    try:
        model = DomainClassifier(**args)
    except (TypeError, ValueError) as exc:
        raise GankitError(f"{json_path}: cannot build the detector its record describes: {exc}") from None
    checkpoint.load_module(model, tensors, "model", json_path, "detector")
    return model.eval().requires_grad_(False), record


class CNNScorer:
    """P(generated) of uint8 images under a trained detector, in batches, in eval mode."""

    def __init__(self, model: DomainClassifier, batch_size: int = 1000):
        self.model, self.batch_size = model, batch_size

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.model.in_channels, self.model.image_size, self.model.image_size

    @torch.no_grad()
    def scores(self, images: Tensor) -> np.ndarray:
        was = self.model.training
        self.model.eval()
        out = [torch.sigmoid(self.model(to_float(images[i:i + self.batch_size]))[:, 0])
               for i in range(0, len(images), self.batch_size)]
        self.model.train(was)
        return torch.cat(out).numpy() if out else np.zeros(0)
