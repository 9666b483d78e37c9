"""A fitted fairness model: its net, its adversary, the feature encoding, and what the fit measured.

    model = FairModel.load("model/")
    p = model.scores(table)                 # P(positive outcome) per row
    result = model.evaluate(table)          # accuracy, AUROC, gaps, per-group rates, adversary accuracy
    z = model.transform(table)              # the representation (method "representation")

A model folder holds ``weights.safetensors`` and ``model.json`` (written last: the commit
marker). Nothing is unpickled.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.config import from_dict
from gankit.errors import DataError, GankitError
from gankit.fair.config import FairConfig
from gankit.fair.features import Features
from gankit.fair.metrics import fairness_metrics, recovery_chance
from gankit.fair.nets import players_for
from gankit.privacy.schema import Table

MODEL_FORMAT = 1


class FairModel:
    """A fitted predictor (or encoder and head) with the adversary that was trained against it."""

    def __init__(self, config: FairConfig, features: Features, net: torch.nn.Module, adversary: torch.nn.Module, *,
                 sensitive: str, target: str, positive: str, groups: list[str], record: dict | None = None):
        self.config, self.features, self.net, self.adversary = config, features, net.eval(), adversary.eval()
        self.sensitive, self.target, self.positive, self.groups = sensitive, target, positive, list(groups)
        # what the fit measured and where its data came from: weight, curve, validation, source, split sizes
        self.record = dict(record or {})

    # --- predictions ---

    def features_of(self, table: Table) -> torch.Tensor:
        """The model's standardized features of every row."""
        missing = [n for n in self.features.names if n not in table.data]
        if missing:
            raise DataError(f"the table lacks the model's feature column(s) {', '.join(map(repr, missing))}")
        return torch.from_numpy(self.features.matrix(table))

    @torch.no_grad()
    def scores(self, table: Table) -> np.ndarray:
        """P(positive outcome) for every row."""
        return torch.sigmoid(self.net(self.features_of(table))).numpy().astype(np.float64)

    def predict(self, table: Table) -> np.ndarray:
        """1 where the model predicts the positive outcome (probability above 1/2)."""
        return (self.scores(table) > 0.5).astype(int)

    @torch.no_grad()
    def transform(self, table: Table) -> np.ndarray:
        """The fair representation of every row (method "representation" only)."""
        if self.config.method != "representation":
            raise GankitError("this model is an adversarially debiased predictor; it has no representation "
                              "(fit with --method representation)")
        return self.net.encode(self.features_of(table)).numpy()

    def outcomes(self, table: Table) -> np.ndarray:
        return (np.asarray(table.data[self.target]) == self.positive).astype(int)

    def group_codes(self, table: Table) -> np.ndarray:
        if self.sensitive not in table.data:
            raise DataError(f"the table lacks the sensitive column {self.sensitive!r}")
        lookup = {g: i for i, g in enumerate(self.groups)}
        values = np.asarray(table.data[self.sensitive])
        unknown = sorted(set(values.tolist()) - set(lookup))
        if unknown:
            raise DataError(f"column {self.sensitive!r}: group(s) {', '.join(map(repr, unknown))} were not in the "
                            f"training rows ({', '.join(map(repr, self.groups))})")
        return np.array([lookup[v] for v in values])

    @torch.no_grad()
    def adversary_accuracy(self, table: Table) -> float:
        """How often the model's own adversary names a row's group from what it reads."""
        x = self.features_of(table)
        y = torch.from_numpy(self.outcomes(table).astype(np.float32))
        guess = self.adversary(self.net.adversary_view(x), y).argmax(1).numpy()
        return float((guess == self.group_codes(table)).mean())

    def evaluate(self, table: Table) -> dict:
        """fairness_metrics on ``table``, with the adversary's accuracy beside its chance level."""
        score = self.scores(table)
        out = fairness_metrics(self.outcomes(table), (score > 0.5).astype(int), table.data[self.sensitive], score)
        out["adversary_accuracy"] = self.adversary_accuracy(table)
        out["adversary_chance"] = recovery_chance(table.data[self.sensitive])
        out["rows"] = len(table)
        return out

    # --- files ---

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        state.update({f"adversary.{k}": v for k, v in self.adversary.state_dict().items()})
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(folder / "weights.safetensors"))
        meta = {"format": MODEL_FORMAT, "gankit": __version__, "torch": torch.__version__,
                "python": platform.python_version(), "config": self.config.to_dict(),
                "features": self.features.to_dict(), "sensitive": self.sensitive, "target": self.target,
                "positive": self.positive, "groups": self.groups, **self.record}
        atomic_write_text(folder / "model.json", json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> FairModel:
        folder = Path(folder)
        meta_path, weights = folder / "model.json", folder / "weights.safetensors"
        if not meta_path.is_file() or not weights.is_file():
            raise GankitError(f"{folder} is not a gankit fairness model (need model.json and weights.safetensors; "
                              f"make one with `gankit fair fit`)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise GankitError(f"{meta_path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if meta.get("format") != MODEL_FORMAT:
            raise GankitError(f"{meta_path}: model format {meta.get('format')} is not supported")
        config = from_dict(FairConfig, meta["config"])
        features = Features.from_dict(meta["features"], str(meta_path))
        net, adversary = players_for(config, features.width, len(meta["groups"]))
        state = load_file(str(weights))
        try:
            net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
            adversary.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("adversary.")})
        except RuntimeError as exc:
            raise GankitError(f"{weights} does not fit {meta_path}: {str(exc).splitlines()[0]}") from None
        record = {k: v for k, v in meta.items() if k not in ("format", "gankit", "torch", "python", "config",
                                                             "features", "sensitive", "target", "positive", "groups")}
        return cls(config, features, net, adversary, sensitive=meta["sensitive"], target=meta["target"],
                   positive=meta["positive"], groups=meta["groups"], record=record)
