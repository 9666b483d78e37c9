"""The simple private baseline: independent per-column noisy histograms (Gaussian mechanism).

Each column (numbers on ``bins`` equal bins of the declared range, categories as they
are) gets a histogram; one record adds 1 to one cell of every histogram, so all
histograms together have L2 sensitivity sqrt(d) for d histograms, and adding
N(0, (sigma sqrt(d))^2) to every cell is one Gaussian mechanism with noise multiplier
sigma, calibrated and counted with Opacus' accountant (a step with sample rate 1).
Columns are then sampled independently (uniform inside a bin): marginals survive,
every relation between columns is lost.

``conditional=True`` keeps one set of histograms per target class plus the class
counts (still one cell per histogram per record): a private naive-Bayes model, the
strongest thing a per-column method can be for a classification task.

A column that may be missing has one more cell, "missing" (still one cell per record).
"""

from __future__ import annotations

import math

import numpy as np

from gankit.privacy.dp import Ledger, counts_noise
from gankit.privacy.schema import Column, Schema, Table


class HistogramSynthesizer:
    """Fit with ``fit``; ``sample(n, seed)`` returns a Table; ``privacy`` holds the ledger like Synthesizer."""

    def __init__(self, schema: Schema, *, epsilon: float, delta: float, bins: int = 20,
                 conditional: bool = False, seed: int = 0):
        self.schema, self.epsilon, self.delta, self.bins = schema, epsilon, delta, bins
        self.conditional, self.seed = conditional, seed
        self.probs: dict[tuple[str, int], np.ndarray] = {}
        self.class_prior: np.ndarray | None = None
        self.privacy: dict = {}

    def _cells(self, col: Column, values: np.ndarray) -> tuple[np.ndarray, int]:
        if col.numeric:  # a missing number is the cell after the last bin
            values = values.astype(np.float64)
            u = np.clip((np.nan_to_num(values, nan=col.min) - col.min) / (col.max - col.min), 0, 1)
            cells = np.minimum((u * self.bins).astype(np.int64), self.bins - 1)
            return np.where(np.isnan(values), self.bins, cells), self.bins + int(col.missing)
        lookup = {c: i for i, c in enumerate(col.levels)}
        return np.array([lookup[v] for v in values], dtype=np.int64), len(col.levels)

    def fit(self, train: Table) -> HistogramSynthesizer:
        rng = np.random.default_rng(self.seed)
        private = math.isfinite(self.epsilon)
        target = self.schema.column(self.schema.target)
        codes = train.target_codes()
        n_classes = len(target.categories)
        groups = [(k, codes == k) for k in range(n_classes)] if self.conditional else [(-1, np.ones(len(train), bool))]
        columns = self.schema.features() + ([] if self.conditional else [target])
        d = len(columns) + (1 if self.conditional else 0)
        sigma = counts_noise(self.epsilon, self.delta) if private else 0.0
        std = sigma * math.sqrt(d)  # noise on every cell: Gaussian mechanism at L2 sensitivity sqrt(d)
        for k, rows in groups:
            for col in columns:
                cells, width = self._cells(col, train.data[col.name][rows])
                counts = np.bincount(cells, minlength=width) + rng.normal(0, std, width) * private
                self.probs[(col.name, k)] = _normalize(counts)
        if self.conditional:
            self.class_prior = _normalize(np.bincount(codes, minlength=n_classes) + rng.normal(0, std, n_classes)
                                          * private)
        ledger = Ledger(self.delta)
        if private:
            ledger.record(sigma, 1.0)
        self.privacy = {"epsilon_target": self.epsilon if private else "inf", "delta": self.delta,
                        "epsilon_spent": ledger.spent() if private else "inf", "noise_multiplier": sigma,
                        "ledger": ledger.to_dict(), "schema_declared": self.schema.declared}
        return self

    def sample(self, n: int, seed: int = 0) -> Table:
        rng = np.random.default_rng(seed)
        target = self.schema.column(self.schema.target)
        if self.conditional:
            codes = rng.choice(len(target.categories), size=n, p=self.class_prior)
            groups = [(k, codes == k) for k in range(len(target.categories))]
        else:
            codes, groups = None, [(-1, np.ones(n, bool))]
        data = {c.name: np.empty(n, dtype=np.float64 if c.numeric else object) for c in self.schema.columns}
        for k, rows in groups:
            for col in self.schema.columns:
                if (col.name, k) in self.probs:
                    data[col.name][rows] = self._draw(col, self.probs[(col.name, k)], int(rows.sum()), rng)
        if codes is not None:
            data[target.name] = np.array(target.categories, dtype=object)[codes]
        return Table(self.schema, data)

    def _draw(self, col: Column, probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        cells = rng.choice(len(probs), size=n, p=probs)
        if not col.numeric:
            return np.array(col.levels, dtype=object)[cells]
        value = col.min + (cells + rng.random(n)) / self.bins * (col.max - col.min)
        value = np.round(value) if col.type == "ordinal" else value
        return np.where(cells == self.bins, np.nan, value)


def _normalize(counts: np.ndarray) -> np.ndarray:
    counts = np.maximum(counts.astype(np.float64), 0.0)
    total = counts.sum()
    return counts / total if total > 0 else np.full(len(counts), 1.0 / len(counts))
