"""Feature backbones: one small classifier per built-in dataset, trained by gankit itself.

FID, KID, precision/recall and density/coverage compare *features* of real and
generated images. For MNIST-like data the usual ImageNet Inception network is a
poor judge (it never saw a handwritten digit), so gankit ships its own domain
classifiers: a small CNN per dataset, trained with a fixed seed by
``gankit backbone train`` and stored inside the package as
``weights/<dataset>.safetensors`` (tensors) plus ``weights/<dataset>.json``
(constructor arguments, recipe, test accuracy, the command that produced it and
the SHA-256 of the tensor file, checked on every load). Nothing is unpickled.

Inputs are images in [-1, 1] (what ``Dataset.batch`` and gankit generators
produce), shape ``(N, C, H, W)``; uint8 images in [0, 255] are accepted by
:func:`extract`. The penultimate layer (after its ReLU) is the feature vector;
the softmax of the logits gives class probabilities for the classifier score and
class histograms.

    >>> from gankit.metrics.backbones import load_backbone, extract
    >>> net = load_backbone("mnist")
    >>> feats, probs = extract(net, fake_images)   # (N, 128), (N, 10)

See docs/backbones.md for the recorded accuracies and how to retrain.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError

__all__ = ["BACKBONES", "WEIGHTS_DIR", "DomainClassifier", "extract", "load_backbone", "sha256_file"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT_VERSION = 1

# datasets train_backbones knows how to train, in display order
KNOWN = ("mnist", "fashion-mnist", "digits")
# datasets scored with the FID Inception-v3 instead (gankit.metrics.inception; weights from the user)
NATURAL_IMAGES = ("cifar10",)


def _shipped(folder: Path) -> list[str]:
    return [name for name in KNOWN
            if (folder / f"{name}.json").is_file() and (folder / f"{name}.safetensors").is_file()]


#: dataset names whose backbone weights ship with this install
BACKBONES: list[str] = _shipped(WEIGHTS_DIR)


class DomainClassifier(nn.Module):
    """A small CNN: two conv blocks, a ``feature_dim`` layer, a linear classifier.

    block(c) = (conv3x3 -> BatchNorm -> ReLU) x ``convs_per_block`` -> maxpool 2; the blocks have
    ``width`` and ``2 * width`` channels, so a 28x28 image leaves them as
    7x7 and an 8x8 image as 2x2 (``image_size`` must be divisible by 4). Then
    flatten -> linear(feature_dim) -> ReLU (the features) -> dropout -> linear(num_classes).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: int = 32, feature_dim: int = 128, convs_per_block: int = 1,
                 dropout: float = 0.3):
        super().__init__()
        if image_size % 4 != 0 or image_size < 4:
            raise ValueError(f"image_size must be a positive multiple of 4, got {image_size}")
        if convs_per_block < 1:
            raise ValueError(f"convs_per_block must be at least 1, got {convs_per_block}")
        self.in_channels = in_channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.width = width
        self.feature_dim = feature_dim
        self.convs_per_block = convs_per_block
        self.dropout = dropout

        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out in (width, 2 * width):
            for _ in range(convs_per_block):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                           nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        self.conv = nn.Sequential(*layers)
        side = image_size // 4
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * side * side, feature_dim),
                                   nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def config(self) -> dict:
        """The constructor arguments (what the weights JSON stores)."""
        return {"in_channels": self.in_channels, "image_size": self.image_size,
                "num_classes": self.num_classes, "width": self.width,
                "feature_dim": self.feature_dim, "convs_per_block": self.convs_per_block,
                "dropout": self.dropout}

    def _check(self, x: Tensor) -> None:
        want = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, want))}), "
                             f"got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer activations (after ReLU), shape (N, feature_dim)."""
        self._check(x)
        return self.embed(self.conv(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits, shape (N, num_classes)."""
        return self.head(self.features(x))

    def probs(self, x: Tensor) -> Tensor:
        """Softmax class probabilities, shape (N, num_classes)."""
        return self.forward(x).softmax(dim=1)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unknown(dataset: str, available: list[str]) -> GankitError:
    have = ", ".join(available) if available else "none (no weights files found)"
    return GankitError(
        f"no feature backbone for dataset {dataset!r}; backbones ship for: {have}. "
        f"Natural-image datasets (cifar10, image folders) are measured with the FID Inception-v3, "
        f"load_backbone('inception'), from a weights file you download once (gankit cannot ship it; "
        f"see docs/inception.md); `gankit evaluate` uses it for CIFAR-10.")


def load_backbone(dataset: str, device: str | torch.device = "cpu",
                  weights_dir: str | Path | None = None) -> DomainClassifier:
    """The trained classifier for ``dataset``, in eval mode, gradients off.

    Reads ``<weights_dir>/<dataset>.json`` and ``.safetensors`` (default: the
    weights shipped in the package) and checks the tensor file against the
    SHA-256 recorded in the JSON.
    """
    if dataset == "inception":  # natural images; weights_dir: the weights file or its folder
        from gankit.metrics.inception import load_inception
        return load_inception(weights_dir, device)
    folder = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    if dataset not in KNOWN:
        raise _unknown(dataset, _shipped(folder))
    json_path = folder / f"{dataset}.json"
    st_path = folder / f"{dataset}.safetensors"
    for p in (json_path, st_path):
        if not p.is_file():
            raise GankitError(f"backbone weights for {dataset!r} are missing: {p} does not exist; "
                              f"train them with `gankit backbone train {dataset}`")
    try:
        record = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise GankitError(f"cannot read backbone record {json_path}: {exc}") from None
    if record.get("format") != FORMAT_VERSION:
        raise GankitError(f"{json_path}: backbone format {record.get('format')!r} is not supported "
                          f"(this gankit reads format {FORMAT_VERSION})")
    digest = sha256_file(st_path)
    if digest != record.get("sha256"):
        raise GankitError(f"backbone weights file {st_path} does not match its record {json_path.name}: "
                          f"SHA-256 is {digest}, expected {record.get('sha256')}. The file was modified "
                          f"or is corrupt; reinstall gankit or retrain with "
                          f"`gankit backbone train {dataset}`.")
    try:
        model = DomainClassifier(**record["model"])
        tensors = load_file(str(st_path))
        model.load_state_dict(tensors, strict=True)
    except Exception as exc:  # KeyError, TypeError, shape mismatches, safetensors errors
        raise GankitError(f"cannot build backbone from {json_path} / {st_path.name}: {exc}") from None
    model.eval().requires_grad_(False)
    return model.to(device)


@torch.no_grad()
def extract(model: DomainClassifier, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Features (N, feature_dim) and class probabilities (N, num_classes) of ``images``.

    images: float in [-1, 1] or uint8 in [0, 255], shape (N, C, H, W), on any
    device; they are moved to the model's device one batch at a time and the
    results stay there. The model is run in eval mode (and left as it was).
    """
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a tensor, got {type(images).__name__}")
    if images.dtype == torch.uint8:
        scale = True
    elif images.is_floating_point():
        scale = False
        if images.numel() and (not torch.isfinite(images).all() or images.abs().max() > 1.5):
            raise ValueError("float images must be finite and in [-1, 1] (a generator's tanh output); "
                             f"got values in [{images.min().item():.3g}, {images.max().item():.3g}]. "
                             "Pass uint8 images for the [0, 255] range.")
    else:
        raise ValueError(f"images must be float in [-1, 1] or uint8, got dtype {images.dtype}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats, probs = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(device)
            x = x.float() / 127.5 - 1.0 if scale else x.float()
            # e.g. a 32x32 DCGAN scored on the 28x28 MNIST classifier (Inception resizes itself)
            if isinstance(model, DomainClassifier) and x.shape[-2:] != (model.image_size,) * 2:
                x = F.interpolate(x, size=(model.image_size,) * 2, mode="bilinear", antialias=True,
                                  align_corners=False)
            f = model.features(x)
            feats.append(f)
            probs.append(model.head(f).softmax(dim=1))
    finally:
        model.train(was_training)
    if not feats:
        return (torch.empty(0, model.feature_dim, device=device),
                torch.empty(0, model.num_classes, device=device))
    return torch.cat(feats), torch.cat(probs)
