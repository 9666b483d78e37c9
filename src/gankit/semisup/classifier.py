"""The trained classifier as files (safetensors + JSON, never pickle), its test error, and predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import Tensor, nn

from gankit.checkpoint import (atomic_write_bytes, atomic_write_text, check_finite, is_count, load_state,
                               read_record, record_field)
from gankit.errors import GankitError
from gankit.semisup.nets import Classifier, parse_widths

KIND = "gankit-semisup-classifier"
FORMAT = 2  # 2: every tensor has a leading copy axis of size 1 (nets.py); 1: the same without it


@torch.no_grad()
def predicted_classes(model: nn.Module, x: Tensor, batch: int = 2000) -> Tensor:
    """The class the model names for each row of x, in eval mode (no noise)."""
    model.eval()
    return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


@torch.no_grad()
def test_errors(model: nn.Module, x: Tensor, y: Tensor, batch: int = 2000) -> int:
    """Number of misclassified rows of (x, y), with the model in eval mode (no noise)."""
    return int((predicted_classes(model, x, batch) != y).sum())


def save_classifier(stem: Path, model: Classifier, meta: dict[str, Any]) -> Path:
    """Write ``stem.safetensors`` (weights) then ``stem.json`` (architecture, class names, results).

    ``model``: a one-copy Classifier (``nets.copy_of`` takes one out of a stack).
    """
    if model.copies != 1:
        raise ValueError(f"save one copy at a time (nets.copy_of): this classifier holds {model.copies}")
    stem = Path(stem)
    c = meta["config"]
    record = {"kind": KIND, "format": FORMAT, "in_features": model.in_features, "num_classes": model.num_classes,
              "d_hidden": c["d_hidden"], "input": "grey images scaled to [0, 1], flattened row-major", **meta}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(stem.with_suffix(".safetensors"), save(tensors))
    atomic_write_text(stem.with_suffix(".json"), json.dumps(record, indent=1))
    return stem.with_suffix(".json")


def seed_folders(run: Path) -> list[Path]:
    """RUN/seed-K/ of a run that trained seeds side by side (each holds that seed's classifier)."""
    return sorted(run.glob("seed-*/classifier.json"))


def _find(path: Path) -> Path:
    path = Path(path)
    if path.is_dir() and not (path / "classifier.json").is_file() and seed_folders(path):
        names = ", ".join(str(f.parent) for f in seed_folders(path))
        raise GankitError(f"{path} trained several seeds side by side: give one seed's folder ({names})")
    if path.is_dir():
        path = path / "classifier.json"
    path = path.with_suffix(".json")
    if not path.is_file() or not path.with_suffix(".safetensors").is_file():
        raise GankitError(f"classifier {path} not found: expected a run folder of `gankit semisup` or "
                          f"a classifier.json beside its classifier.safetensors")
    return path


def load_classifier(path: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """Load a classifier saved by ``save_classifier`` (a run folder or the .json/.safetensors path)."""
    json_path = _find(Path(path))
    record, tensors = read_record(json_path, "classifier")
    if record.get("kind") != KIND:
        raise GankitError(f"{json_path} is not a gankit semi-supervised classifier (kind={record.get('kind')!r})")
    if record.get("format") not in (1, FORMAT):
        raise GankitError(f"{json_path}: classifier format {record.get('format')} is not supported "
                          f"(this gankit reads formats 1 and {FORMAT})")
    check_finite(tensors, json_path.with_suffix(".safetensors"))
    if record["format"] == 1:
        tensors = {k: v.unsqueeze(0) for k, v in tensors.items()}
    model = _build(record, json_path)
    load_state(model, tensors, json_path, "classifier",
               hint="were in_features, d_hidden or num_classes edited, or the .safetensors copied from another run?")
    return model.eval(), record


def _build(record: dict[str, Any], json_path: Path) -> Classifier:
    """The (untrained) classifier the record describes; errors name the file and the key."""
    positive = "a whole number > 0"
    in_features = record_field(record, "in_features", json_path, lambda v: is_count(v) and v > 0, positive)
    num_classes = record_field(record, "num_classes", json_path, lambda v: is_count(v) and v > 0, positive)
    d_hidden = record_field(record, "d_hidden", json_path, lambda v: type(v) in (str, int),
                            "layer widths like '1000-500-250'")
    try:
        widths = parse_widths(str(d_hidden), "d_hidden")
    except ValueError as exc:
        raise GankitError(f"{json_path}: {exc}") from None
    return Classifier(in_features, widths, num_classes)


def load_image(path: str | Path, image_shape: tuple[int, ...] = (1, 28, 28), invert: bool = False) -> Tensor:
    """A PNG/JPEG as a (C, H, W) tensor in [0, 1] (grey for C = 1, else RGB), resized to the classifier's input size."""
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as im:
            small = im.convert("L" if image_shape[0] == 1 else "RGB").resize((image_shape[-1], image_shape[-2]),
                                                                           Image.BILINEAR)
    except (OSError, UnidentifiedImageError) as exc:
        raise GankitError(f"cannot read image {path}: {exc}") from None
    x = torch.frombuffer(bytearray(small.tobytes()), dtype=torch.uint8).float().div(255)
    x = x.view(image_shape[-2], image_shape[-1], -1).permute(2, 0, 1)
    return 1 - x if invert else x


@torch.no_grad()
def predict(model: Classifier, images: Tensor) -> tuple[Tensor, Tensor]:
    """Class index and its softmax probability over the K real classes, for (N, ...) images in [0, 1]."""
    probs = torch.softmax(model.eval()(images.flatten(1)), dim=1)
    p, k = probs.max(1)
    return k, p
