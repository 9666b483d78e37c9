"""A table ready for a fairness fit: roles checked, groups big enough, split three ways, encoded.

    data = prepare(table, "sex", config)           # checks, splits, standardizes
    data.fit.x, data.fit.y, data.fit.a             # tensors: features, outcome (0/1), group codes

The split is stratified by (group, outcome) cell, so every group keeps its share of each
outcome in the fitting, validation and held-out rows; a group too small to estimate its
selection, true-positive and false-positive rates is refused, named with its sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import DataError
from gankit.fair.config import FairConfig
from gankit.fair.features import Features
from gankit.privacy.schema import MISSING_CELL, Table


@dataclass
class Split:
    """One part of the table: its rows, and their features, outcomes (1 = positive) and group codes."""

    table: Table
    x: torch.Tensor        # float32, rows x features
    y: torch.Tensor        # float32 0/1
    a: torch.Tensor        # int64 index into FairData.groups
    sensitive: str = ""    # the sensitive column's name

    def __len__(self) -> int:
        return len(self.y)

    @property
    def group_names(self) -> np.ndarray:
        return np.asarray(self.table.data[self.sensitive], dtype=object)


@dataclass
class FairData:
    sensitive: str
    target: str
    positive: str          # the outcome that counts as a positive prediction (selection)
    groups: list[str]      # the sensitive attribute's groups, in code order
    features: Features
    fit: Split
    validation: Split
    test: Split

    @property
    def n_groups(self) -> int:
        return len(self.groups)


def check_roles(table: Table, sensitive: str, positive: str | None, source: str) -> str:
    """The target is a two-outcome column, the sensitive one a categorical column apart from it;
    returns the positive outcome (``positive``, or the last of the target's sorted categories)."""
    schema = table.schema
    if schema.target is None:
        raise DataError(f"{source}: name the outcome column with --target COLUMN")
    if sensitive not in schema.names:
        raise DataError(f"{source}: sensitive column {sensitive!r} is not in the table; columns: "
                        f"{', '.join(schema.names)}")
    if sensitive == schema.target:
        raise DataError(f"{source}: the sensitive column {sensitive!r} is the target itself; a predictor of it "
                        f"cannot hide it: choose another --sensitive or --target")
    col, target = schema.column(sensitive), schema.column(schema.target)
    if col.numeric:
        raise DataError(f"{source}: sensitive column {sensitive!r} is numeric ({col.type}, {col.min:g} to "
                        f"{col.max:g}); it must name groups: bin it into categories first")
    if col.missing and (table.data[sensitive] == MISSING_CELL).any():
        n = int((table.data[sensitive] == MISSING_CELL).sum())
        raise DataError(f"{source}: sensitive column {sensitive!r} is missing on {n} row(s); every row needs its "
                        f"group: drop those rows or give them a category of their own (e.g. 'unknown')")
    present = sorted(set(table.data[sensitive].tolist()))
    if len(present) < 2:
        raise DataError(f"{source}: sensitive column {sensitive!r} has one group ({present[0]!r}); fairness "
                        f"across groups needs at least two")
    if len(target.categories) != 2:
        raise DataError(f"{source}: target {schema.target!r} has {len(target.categories)} outcomes "
                        f"({', '.join(map(repr, target.categories[:5]))}); these models predict a yes/no outcome: "
                        f"binarize it first")
    if positive is not None and positive not in target.categories:
        raise DataError(f"{source}: --positive {positive!r} is not an outcome of {schema.target!r} "
                        f"({', '.join(map(repr, target.categories))})")
    return positive if positive is not None else target.categories[-1]


def group_sizes(groups: np.ndarray, positive: np.ndarray) -> dict[str, tuple[int, int, int]]:
    """Per group: (rows, positives, negatives)."""
    out = {}
    for g in sorted(set(groups.tolist())):
        member = groups == g
        pos = int((positive & member).sum())
        out[g] = (int(member.sum()), pos, int(member.sum()) - pos)
    return out


def check_group_sizes(table: Table, sensitive: str, positive: str, config: FairConfig, source: str) -> None:
    """Refuse groups too small to estimate their rates, naming each with its sizes."""
    sizes = group_sizes(table.data[sensitive], table.data[table.schema.target] == positive)
    small = {g: s for g, s in sizes.items()
             if s[0] < config.min_group_rows or min(s[1], s[2]) < config.min_cell_rows}
    if small:
        named = "; ".join(f"{g!r}: {n} rows ({p} {positive!r}, {q} other)" for g, (n, p, q) in small.items())
        raise DataError(f"{source}: sensitive column {sensitive!r} has group(s) too small to estimate their rates: "
                        f"{named}; each group needs at least {config.min_group_rows} rows and "
                        f"{config.min_cell_rows} of each outcome (min_group_rows, min_cell_rows): merge or drop them")


def split_cells(cells: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, taken) row indices: ``fraction`` of each cell taken at random (at least one where a
    cell has two rows or more), so every cell keeps its share on both sides."""
    rng = np.random.default_rng(seed)
    taken = []
    for cell in sorted(set(cells.tolist())):
        members = rng.permutation(np.flatnonzero(cells == cell))
        k = int(round(fraction * len(members)))
        k = min(max(k, 1 if len(members) > 1 else 0), len(members) - 1)
        taken.append(members[:k])
    mask = np.zeros(len(cells), dtype=bool)
    mask[np.concatenate(taken)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def prepare(table: Table, sensitive: str, config: FairConfig, positive: str | None = None,
            source: str = "table") -> FairData:
    """Check roles and group sizes, split (fit / validation / held-out test), fit the standardization."""
    positive = check_roles(table, sensitive, positive, source)
    check_group_sizes(table, sensitive, positive, config, source)
    target = table.schema.target
    groups = list(table.schema.column(sensitive).categories)
    groups = [g for g in groups if g in set(table.data[sensitive].tolist())]
    cells = np.array([f"{g}\x00{o}" for g, o in zip(table.data[sensitive], table.data[target])], dtype=object)
    rest, test = split_cells(cells, config.holdout, config.seed)
    fit_rows, val_rows = split_cells(cells[rest], config.validation, config.seed + 1)
    fit_rows, val_rows = rest[fit_rows], rest[val_rows]
    features = Features.for_table(table.schema, sensitive, config.sensitive_as_feature).fit(table.subset(fit_rows))
    codes = {g: i for i, g in enumerate(groups)}

    def part(rows: np.ndarray) -> Split:
        sub = table.subset(rows)
        return Split(sub, torch.from_numpy(features.matrix(sub)),
                     torch.from_numpy((sub.data[target] == positive).astype(np.float32)),
                     torch.tensor([codes[g] for g in sub.data[sensitive]], dtype=torch.long), sensitive)

    return FairData(sensitive, target, positive, groups, features, part(fit_rows), part(val_rows), part(test))
