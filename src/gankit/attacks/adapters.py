"""Make any network an attack target: ``as_classifier`` and ``load_classifier``.

Attacks want a model that takes images in [0, 1] and returns class logits
``(N, num_classes)``. gankit's own networks mostly take images in [-1, 1] (what
``Dataset.batch`` and generators produce), and some return more than logits (a
discriminator's features and logits, a dict). :func:`as_classifier` bridges both:

    >>> from gankit.metrics.backbones import load_backbone
    >>> target = as_classifier(load_backbone("mnist"), input_range=(-1, 1))
    >>> x_adv = PGD(eps=0.3)(target, x01, y)

A semi-supervised GAN discriminator with K real classes (Salimans et al. 2016)
returns K logits, or K + 1 with a "fake" logit last; ``classes=slice(0, K)`` keeps
the real ones.

:func:`load_classifier` rebuilds a classifier from a gankit checkpoint (JSON +
safetensors, nothing unpickled): checkpoints written by ``gankit robust-train``
(``"arch"`` in the JSON), the shipped feature backbones (``backbone:mnist``), the
classifiers written by ``gankit semisup`` (``classifier.json``, read by that module's own
loader, imported only then), and any checkpoint whose JSON carries a ``"classifier"`` record::

    "classifier": {"target": "gankit.some.module:ClassName",   # a class inside gankit
                   "kwargs": {...},                             # its constructor arguments
                   "module": "D",                               # tensor prefix in the .safetensors
                   "input_range": [-1, 1],                      # what the network expects
                   "output": 0,                                 # optional: index / key of the logits
                   "classes": [0, 10]}                          # optional: logit columns to keep
"""

from __future__ import annotations

from dataclasses import dataclass

import importlib
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

__all__ = ["ClassifierAdapter", "as_classifier", "load_classifier", "read_classifier"]


class ClassifierAdapter(nn.Module):
    """Wraps ``net`` so that it takes [0, 1] images and returns logits (N, num_classes).

    ``input_range``: the range ``net`` expects (inputs are mapped linearly from [0, 1]).
    ``output``: how to get logits from what ``net`` returns: None (it returns logits), an
    int / str (index into a tuple / key into a dict) or a callable.
    ``classes``: a slice of logit columns to keep (e.g. drop a GAN's "fake" logit).
    """

    def __init__(self, net: nn.Module, input_range: tuple[float, float] = (0.0, 1.0),
                 output: int | str | Callable[[Any], Tensor] | None = None, classes: slice | None = None):
        super().__init__()
        lo, hi = float(input_range[0]), float(input_range[1])
        if not hi > lo:
            raise GankitError(f"input_range must be (low, high) with high > low, got {input_range}")
        self.net, self.lo, self.scale = net, lo, hi - lo
        self.output, self.classes = output, classes

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x * self.scale + self.lo if (self.lo, self.scale) != (0.0, 1.0) else x)
        if callable(self.output):
            out = self.output(out)
        elif self.output is not None:
            out = out[self.output]
        if not torch.is_tensor(out) or out.ndim != 2:
            got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise GankitError(f"the wrapped network must give logits (N, num_classes), got {got}; "
                              f"pick them with output=index, key or function")
        return out if self.classes is None else out[:, self.classes]


def as_classifier(net: nn.Module, *, input_range: tuple[float, float] = (0.0, 1.0),
                  output: int | str | Callable[[Any], Tensor] | None = None,
                  classes: slice | None = None) -> nn.Module:
    """``net`` as an attack target ([0, 1] in, logits out); returned unchanged when nothing to adapt."""
    if tuple(input_range) == (0.0, 1.0) and output is None and classes is None:
        return net
    return ClassifierAdapter(net, input_range, output, classes)


SEMISUP_KIND = "gankit-semisup-classifier"


def _load_record(path: Path) -> tuple[dict, dict[str, Tensor] | None, Path]:
    """The checkpoint's JSON record and tensors; a semi-supervised classifier file defers its tensors."""
    from gankit.checkpoint import find_checkpoint, read_checkpoint, read_json_record
    single = path / "classifier.json" if path.is_dir() else path.with_suffix(".json")
    if single.is_file():
        record = read_json_record(single, "classifier")
        if record.get("kind") == SEMISUP_KIND:
            return record, None, single
    if path.is_dir() and list(path.glob("seed-*/classifier.json")):  # seeds trained side by side
        from gankit.semisup.classifier import load_classifier as load_semisup
        load_semisup(path)  # raises, naming the seed folders to choose from
    json_path = find_checkpoint(path)
    record, tensors = read_checkpoint(json_path)
    return record, tensors, json_path


def _from_record(spec: dict, tensors: dict[str, Tensor], where: Path) -> nn.Module:
    from gankit.checkpoint import load_module
    if not isinstance(spec, dict):
        raise GankitError(f"{where}: 'classifier' must be an object (target, kwargs, module, ...), got {spec!r:.60}")
    target = str(spec.get("target", ""))
    if not target.startswith("gankit.") or ":" not in target:
        raise GankitError(f"{where}: classifier target must be 'gankit.module:Class' (only gankit's own "
                          f"classes are built from checkpoints), got {target!r}")
    module_name, class_name = target.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        net = cls(**spec.get("kwargs", {}))
    except Exception as exc:  # ImportError, AttributeError, TypeError
        raise GankitError(f"{where}: cannot build classifier {target}: {exc}") from None
    load_module(net, tensors, str(spec.get("module", "model")), where, "classifier")
    classes = spec.get("classes")
    return as_classifier(net, input_range=tuple(spec.get("input_range", (0.0, 1.0))), output=spec.get("output"),
                         classes=None if classes is None else slice(*classes))


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A classifier ([0, 1] images in, logits out) in eval mode, from a checkpoint or ``backbone:NAME``."""
    return read_classifier(path, device)[0]


def read_classifier(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Like :func:`load_classifier`, and also the checkpoint's JSON record (dataset, config, ...)."""
    spec = str(path)
    if spec.startswith("backbone:"):
        from gankit.metrics.backbones import load_backbone
        name = spec.split(":", 1)[1]
        net = load_backbone(name)
        return as_classifier(net, input_range=(-1.0, 1.0)).to(device).eval(), {"dataset": name}
    record, tensors, json_path = _load_record(Path(path))
    if tensors is None:  # `gankit semisup` writes its own classifier files; its loader reads them
        from gankit.semisup.classifier import load_classifier as load_semisup
        model, record = load_semisup(json_path)
    elif "arch" in record:
        from gankit.attacks.models import MODELS, build_model
        from gankit.checkpoint import load_module
        if not isinstance(record["arch"], str) or record["arch"] not in MODELS:
            raise GankitError(f"{json_path}: unknown architecture {record['arch']!r} (known: {', '.join(MODELS)})")
        try:
            model = build_model(record["arch"], **record.get("model_args", {}))
        except Exception as exc:  # TypeError: model_args that do not fit
            raise GankitError(f"{json_path}: cannot rebuild the {record['arch']} classifier: {exc}") from None
        load_module(model, tensors, "model", json_path, f"{record['arch']} classifier",
                    hint="was model_args edited, or the .safetensors copied from another run?")
    elif "classifier" in record:
        model = _from_record(record["classifier"], tensors, json_path)
    else:
        raise GankitError(f"{path}: this checkpoint does not describe a classifier (its JSON has neither "
                          f"'arch' (gankit robust-train) nor a 'classifier' record; see "
                          f"gankit.attacks.adapters for the format)")
    return model.to(device).eval(), record


@dataclass
class AttackTarget:
    """A classifier to attack, the test set it belongs to, and where its robustness report goes."""

    model: nn.Module
    dataset: str
    report_dir: Path


def attack_target(checkpoint: str, device: str | torch.device = "cpu", dataset: str | None = None,
                  report_dir: str | Path | None = None) -> AttackTarget:
    """Resolve what `gankit attack CHECKPOINT` attacks: the model, its dataset (from its record unless
    given) and the report folder (default: RUN/robustness, or robustness-NAME for backbone:NAME)."""
    from gankit.distributed import pick_device
    model, record = read_classifier(checkpoint, pick_device(str(device)))
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    dataset = dataset or record.get("dataset") or config.get("dataset")
    if dataset is None:
        raise GankitError(f"{checkpoint}: the checkpoint does not say its dataset; pass --dataset")
    if report_dir is None:
        if checkpoint.startswith("backbone:"):
            report_dir = Path(f"robustness-{dataset}")
        else:
            run = Path(checkpoint)
            run = run.parent if run.suffix in (".json", ".safetensors") else run
            run = run.parent if run.name == "checkpoints" else run
            report_dir = run / "robustness"
    return AttackTarget(model, dataset, Path(report_dir))
