"""Built-in patient tables from scikit-learn (no network), each split once into train and held-out.

* ``breast-cancer``: Wisconsin diagnostic breast cancer, 569 patients, 30 nuclear
  measurements, target ``diagnosis`` (malignant / benign).
* ``diabetes``: Efron et al. 2004, 442 patients, age, sex, BMI, blood pressure and six
  serum measurements (raw units), target ``progression`` = disease progression one
  year later above the median (140.5) -> "high", else "low".

Both come with a declared schema. Its bounds are public facts, not read off the rows
at fit time: for breast cancer the minimum and maximum printed in the dataset's own
documentation (scikit-learn's DESCR, "Summary Statistics"), widened by 5 % of the
range; for diabetes clinically plausible adult ranges chosen by hand. (The published
breast-cancer extremes were once computed from these same patients; here they play
the part of a data dictionary that a data holder would publish anyway.)
"""

from __future__ import annotations

import numpy as np

from gankit.errors import DataError
from gankit.privacy.schema import Column, Schema, Table

EXAMPLES = {
    "breast-cancer": "Wisconsin diagnostic breast cancer: 569 patients, 30 features, target diagnosis",
    "diabetes": "diabetes progression: 442 patients, 10 features, target progression (high/low at median)",
}
HOLDOUT_FRACTION = 0.3
SPLIT_SEED = 20190702  # fixed once: every fit and report sees the same split

# (min, max) from the "Summary Statistics" table of sklearn's breast-cancer DESCR, per measurement
_BC_RANGES = {
    "radius": [(6.981, 28.11), (0.112, 2.873), (7.93, 36.04)],
    "texture": [(9.71, 39.28), (0.36, 4.885), (12.02, 49.54)],
    "perimeter": [(43.79, 188.5), (0.757, 21.98), (50.41, 251.2)],
    "area": [(143.5, 2501.0), (6.802, 542.2), (185.2, 4254.0)],
    "smoothness": [(0.053, 0.163), (0.002, 0.031), (0.071, 0.223)],
    "compactness": [(0.019, 0.345), (0.002, 0.135), (0.027, 1.058)],
    "concavity": [(0.0, 0.427), (0.0, 0.396), (0.0, 1.252)],
    "concave points": [(0.0, 0.201), (0.0, 0.053), (0.0, 0.291)],
    "symmetry": [(0.106, 0.304), (0.008, 0.079), (0.156, 0.664)],
    "fractal dimension": [(0.05, 0.097), (0.001, 0.03), (0.055, 0.208)],
}
_BC_PREFIX = ["mean {}", "{} error", "worst {}"]  # scikit-learn's feature names, per DESCR column

# hand-declared plausible ranges for the raw diabetes columns
_DIABETES = [
    Column("age", "ordinal", 18, 90),
    Column("sex", "categorical", categories=["1", "2"]),
    Column("bmi", "continuous", 15, 50),
    Column("bp", "continuous", 50, 150),          # mean arterial pressure, mm Hg
    Column("s1", "continuous", 80, 320),          # total serum cholesterol, mg/dl
    Column("s2", "continuous", 30, 260),          # LDL
    Column("s3", "continuous", 15, 110),          # HDL
    Column("s4", "continuous", 1, 10),            # total cholesterol / HDL
    Column("s5", "continuous", 3, 6.5),           # log of serum triglycerides
    Column("s6", "continuous", 50, 130),          # blood sugar, mg/dl
]


def breast_cancer_schema() -> Schema:
    columns = []
    for block, prefix in enumerate(_BC_PREFIX):
        for measure, ranges in _BC_RANGES.items():
            lo, hi = ranges[block]
            pad = 0.05 * (hi - lo)
            columns.append(Column(prefix.format(measure), "continuous", round(max(0.0, lo - pad), 6),
                                  round(hi + pad, 6)))
    columns.append(Column("diagnosis", "categorical", categories=["malignant", "benign"]))
    return Schema(columns, "diagnosis", declared=True)


def diabetes_schema() -> Schema:
    cols = [Column(c.name, c.type, c.min, c.max, c.categories) for c in _DIABETES]
    return Schema(cols + [Column("progression", "categorical", categories=["low", "high"])], "progression")


def _full_table(name: str) -> Table:
    from sklearn.datasets import load_breast_cancer, load_diabetes
    if name == "breast-cancer":
        raw, schema = load_breast_cancer(), breast_cancer_schema()
        data = {n: raw.data[:, j].astype(np.float64) for j, n in enumerate(raw.feature_names)}
        data["diagnosis"] = np.array(raw.target_names, dtype=object)[raw.target]
    else:
        raw, schema = load_diabetes(scaled=False), diabetes_schema()
        data = {n: raw.data[:, j].astype(np.float64) for j, n in enumerate(raw.feature_names)}
        data["sex"] = np.array([str(int(v)) for v in data["sex"]], dtype=object)
        data["progression"] = np.where(raw.target > np.median(raw.target), "high", "low").astype(object)
    for col in schema.columns:
        if col.numeric and (data[col.name].min() < col.min or data[col.name].max() > col.max):
            raise AssertionError(f"{name}: declared bounds of {col.name!r} do not hold")
    return Table(schema, {c: data[c] for c in schema.names})


def load_example(name: str) -> tuple[Table, Table]:
    """(train, held-out) for a built-in table: 70 / 30, stratified by the target, fixed seed."""
    if name not in EXAMPLES:
        raise DataError(f"unknown example table {name!r}; built in: {', '.join(EXAMPLES)}")
    return split_table(_full_table(name), HOLDOUT_FRACTION, SPLIT_SEED)


def split_table(table: Table, fraction: float, seed: int) -> tuple[Table, Table]:
    """Random (train, held-out) split of a user table, stratified by its target."""
    if not 0 < fraction < 1:
        raise DataError(f"held-out fraction must be in (0, 1), got {fraction}")
    codes = table.target_codes()
    rng = np.random.default_rng(seed)
    hold = []
    for c in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == c))
        hold.append(members[:int(round(fraction * len(members)))])
    mask = np.zeros(len(table), dtype=bool)
    mask[np.concatenate(hold)] = True
    return table.subset(np.flatnonzero(~mask)), table.subset(np.flatnonzero(mask))
