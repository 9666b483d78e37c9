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

Missing values (columns with ``missing: true``). A categorical column's missing value is
one more category, the last one-hot. A numeric column gets a missingness indicator
after its value: a (present, missing) one-hot. A missing cell's value part is all
zeros (no bin, offset 0): there is no value to imitate, and the generator gates its own
value part by its "present" output the same way (tablegan.py), so the discriminator
judges the value of present cells only and learns the missingness from the indicator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gankit.privacy.schema import Column, Schema, Table


@dataclass(frozen=True)
class Span:
    """A slice of the encoded vector: ``kind`` is "tanh" (one number) or "softmax" (a one-hot).

    ``role`` "missing" marks a numeric column's (present, missing) indicator; the rest are "value"."""

    column: str
    kind: str
    start: int
    width: int
    role: str = "value"


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
            for kind, w, role in self._parts(col):
                self.spans.append(Span(col.name, kind, width, w, role))
                width += w
        self.width = width

    def _parts(self, col: Column) -> list[tuple[str, int, str]]:
        if not col.numeric:
            return [("softmax", len(col.levels), "value")]
        value = [("tanh", 1, "value")] + ([("softmax", self.modes, "value")] if self.modes > 1 else [])
        return value + ([("softmax", 2, "missing")] if col.missing else [])

    def missing_slots(self) -> dict[str, tuple[int, int, int]]:
        """Per column that may be missing: (start, width, index of "missing") of the one-hot that says so."""
        slots = {}
        for span in self.spans:
            col = self.schema.column(span.column)
            if span.role == "missing":
                slots[col.name] = (span.start, span.width, 1)
            elif not col.numeric and col.missing:
                slots[col.name] = (span.start, span.width, span.width - 1)
        return slots

    def encode(self, table: Table) -> np.ndarray:
        parts = [self._encode_column(col, table.data[col.name]) for col in self.columns]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _encode_column(self, col: Column, values: np.ndarray) -> np.ndarray:
        if not col.numeric:
            return _one_hot(col, values)
        missing = col.is_missing(values)
        u = np.clip((np.where(missing, col.min, values.astype(np.float64)) - col.min) / (col.max - col.min), 0.0, 1.0)
        if self.modes == 1:
            value = (2 * u - 1)[:, None]
        else:
            bins = np.minimum((u * self.modes).astype(np.int64), self.modes - 1)
            offset = 2 * (u * self.modes - bins) - 1
            value = np.concatenate([offset[:, None], np.eye(self.modes)[bins]], axis=1)
        if not col.missing:
            return value
        value[missing] = 0.0
        return np.concatenate([value, np.eye(2)[missing.astype(np.int64)]], axis=1)

    def decode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Encoded rows (one-hot parts may be soft: argmax is taken) -> column arrays."""
        out, i = {}, 0
        for col in self.columns:
            if not col.numeric:
                w = len(col.levels)
                out[col.name] = np.array(col.levels, dtype=object)[x[:, i:i + w].argmax(1)]
                i += w
                continue
            offset = np.clip(x[:, i], -1.0, 1.0)
            if self.modes == 1:
                u, i = (offset + 1) / 2, i + 1
            else:
                bins = x[:, i + 1:i + 1 + self.modes].argmax(1)
                u, i = (bins + (offset + 1) / 2) / self.modes, i + 1 + self.modes
            value = col.min + u * (col.max - col.min)
            value = np.round(value) if col.type == "ordinal" else value
            if col.missing:
                value, i = np.where(x[:, i:i + 2].argmax(1) == 1, np.nan, value), i + 2
            out[col.name] = value
        return out

    def numeric_matrix(self, table: Table) -> np.ndarray:
        """Features for distances and classifiers: numbers scaled to [0, 1] by the bounds, categories one-hot.

        A column that may be missing adds a 0/1 "missing" feature; its missing values sit at 0.5, mid-range."""
        parts = []
        for col in self.columns:
            values = table.data[col.name]
            if not col.numeric:
                parts.append(_one_hot(col, values))
                continue
            scaled = (values.astype(np.float64) - col.min) / (col.max - col.min)
            if col.missing:
                missing = np.isnan(scaled)
                parts.append(np.stack([np.where(missing, 0.5, scaled), missing], axis=1))
            else:
                parts.append(scaled[:, None])
        return np.concatenate(parts, axis=1)


def _one_hot(col: Column, values: np.ndarray) -> np.ndarray:
    """A categorical column's one-hot over its levels (the categories, then "missing" if it may be)."""
    lookup = {c: i for i, c in enumerate(col.levels)}
    return np.eye(len(lookup))[[lookup[v] for v in values]]
