"""Rows <-> vectors for the tabular GAN, fitted on the schema alone (so it spends no privacy).

Continuous and ordinal columns: CTGAN (Xu et al. 2019) normalizes each column per
"mode" of a Gaussian mixture fitted to the data; a mixture fitted to private data
would leak outside the budget, and a private mixture fit is its own research problem.
We keep the idea and drop the fitting: the declared range [min, max] is cut into
``modes`` equal bins (a fixed grid of modes); a value becomes the one-hot of its bin
plus its position inside the bin scaled to [-1, 1]. The generator picks a bin with a
Gumbel-softmax and places the value with a tanh, so skewed and multi-modal columns
are as easy as their histogram on the grid. ``modes=1`` is plain min-max scaling.

Categorical columns: one-hot. The target column is not encoded: it is the label the
generator is conditioned on and the discriminator's auxiliary head predicts (AC-GAN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gankit.privacy.schema import Column, Schema, Table


@dataclass(frozen=True)
class Span:
    """A slice of the encoded vector: ``kind`` is "tanh" (one number) or "softmax" (a one-hot)."""

    column: str
    kind: str
    start: int
    width: int


class TableEncoder:
    """Encode a Table's feature columns into float32 vectors and decode them back."""

    def __init__(self, schema: Schema, modes: int = 5):
        if modes < 1:
            raise ValueError(f"modes must be >= 1, got {modes}")
        self.schema, self.modes = schema, modes
        self.columns = schema.features()
        self.spans: list[Span] = []
        width = 0
        for col in self.columns:
            parts = [("tanh", 1)] + ([("softmax", modes)] if modes > 1 else []) if col.numeric \
                else [("softmax", len(col.categories))]
            for kind, w in parts:
                self.spans.append(Span(col.name, kind, width, w))
                width += w
        self.width = width

    def encode(self, table: Table) -> np.ndarray:
        parts = [self._encode_column(col, table.data[col.name]) for col in self.columns]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _encode_column(self, col: Column, values: np.ndarray) -> np.ndarray:
        if not col.numeric:
            lookup = {c: i for i, c in enumerate(col.categories)}
            return np.eye(len(col.categories))[[lookup[v] for v in values]]
        u = np.clip((values.astype(np.float64) - col.min) / (col.max - col.min), 0.0, 1.0)
        if self.modes == 1:
            return (2 * u - 1)[:, None]
        bins = np.minimum((u * self.modes).astype(np.int64), self.modes - 1)
        offset = 2 * (u * self.modes - bins) - 1
        return np.concatenate([offset[:, None], np.eye(self.modes)[bins]], axis=1)

    def decode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Encoded rows (one-hot parts may be soft: argmax is taken) -> column arrays."""
        out, i = {}, 0
        for col in self.columns:
            if not col.numeric:
                w = len(col.categories)
                out[col.name] = np.array(col.categories, dtype=object)[x[:, i:i + w].argmax(1)]
                i += w
                continue
            offset = np.clip(x[:, i], -1.0, 1.0)
            if self.modes == 1:
                u, i = (offset + 1) / 2, i + 1
            else:
                bins = x[:, i + 1:i + 1 + self.modes].argmax(1)
                u, i = (bins + (offset + 1) / 2) / self.modes, i + 1 + self.modes
            value = col.min + u * (col.max - col.min)
            out[col.name] = np.round(value) if col.type == "ordinal" else value
        return out

    def numeric_matrix(self, table: Table) -> np.ndarray:
        """Features for distances and classifiers: numbers scaled to [0, 1] by the bounds, categories one-hot."""
        parts = []
        for col in self.columns:
            values = table.data[col.name]
            if col.numeric:
                parts.append(((values.astype(np.float64) - col.min) / (col.max - col.min))[:, None])
            else:
                lookup = {c: i for i, c in enumerate(col.categories)}
                parts.append(np.eye(len(col.categories))[[lookup[v] for v in values]])
        return np.concatenate(parts, axis=1)
