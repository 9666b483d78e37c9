"""Rows -> standardized feature vectors for the fairness models (and the scikit-learn peers beside them).

The encoding is the synth report's (gankit.privacy.transform.TableEncoder.numeric_matrix):
numbers scaled by their bounds, categories one-hot, a 0/1 indicator beside a numeric column
that may be missing. Each feature is then standardized with the mean and spread of the
training rows, so one learning rate suits every table. The outcome is never a feature; the
sensitive attribute is one only when asked (``with_sensitive``).
"""

from __future__ import annotations

import numpy as np

from gankit.privacy.schema import Schema, Table
from gankit.privacy.transform import TableEncoder


class Features:
    """Encode a Table's feature columns; ``fit`` learns the standardization from training rows."""

    def __init__(self, schema: Schema, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        self.schema = schema
        self.encoder = TableEncoder(schema)
        self.mean, self.std = mean, std

    @classmethod
    def for_table(cls, schema: Schema, sensitive: str, with_sensitive: bool = False) -> Features:
        """The feature columns of ``schema``: all but its target (and ``sensitive`` unless ``with_sensitive``)."""
        keep = [c for c in schema.columns if with_sensitive or c.name != sensitive]
        return cls(Schema(keep, schema.target, schema.declared))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.encoder.columns]

    def fit(self, table: Table) -> Features:
        raw = self.encoder.numeric_matrix(table)
        self.mean, std = raw.mean(axis=0), raw.std(axis=0)
        self.std = np.where(std > 1e-8, std, 1.0)   # a constant feature stays constant (0)
        return self

    def matrix(self, table: Table) -> np.ndarray:
        """float32 rows x features, standardized."""
        if self.mean is None:
            raise RuntimeError("Features.fit must see the training rows first")
        return ((self.encoder.numeric_matrix(table) - self.mean) / self.std).astype(np.float32)

    @property
    def width(self) -> int:
        return len(self.mean)

    def to_dict(self) -> dict:
        return {"schema": self.schema.to_dict(), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, raw: dict, source: str = "model.json") -> Features:
        return cls(Schema.from_dict(raw["schema"], source), np.array(raw["mean"]), np.array(raw["std"]))
