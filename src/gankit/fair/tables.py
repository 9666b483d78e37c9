"""Tables for fairness work: pandas DataFrames as gankit Tables, and the patient tables of scikit-survival.

    table = patient_table("whas500")                  # a Table whose target is "died", 500 rows
    PATIENT_TABLES["whas500"].sensitive               # ("gender",)
    table = table_from_frame(frame, target="outcome") # any DataFrame

scikit-survival ships its tables as (features, structured outcome array); a survival
outcome is not a binary one, so each table below names the event indicator it turns
into a yes/no target, and why it is a fair reading of the data:

* ``flchain``: Dispenzieri et al. 2012, 7,874 residents of Olmsted County (serum free
  light chains). Target ``death``: died during follow-up (scikit-survival's ``death``).
  Protected: ``sex`` (F, M). The ``chapter`` column (the cause of death) is dropped: it is
  recorded only for those who died, so it gives the outcome away.
* ``whas500``: Worcester Heart Attack Study, 500 patients. Target ``died``: dead at last
  follow-up (``fstat``). Protected: ``gender`` (male, female).
* ``actg320``: the ACTG 320 AIDS trial, 1,151 patients (``load_aids``). Target ``event``:
  an AIDS-defining event or death during follow-up (``censor``; 8.3 % of patients).
  Protected: ``sex`` (male, female) and ``raceth`` (white, black, hispanic, asian or
  pacific islander, american indian or alaskan native; the last two hold 14 and 11
  patients, too few to estimate their error rates: fits refuse them unless merged or
  dropped, see :func:`keep_groups`).

Codes are named from the tables' documentation (Hosmer, Lemeshow and May 2008 for
whas500 and actg320). Bounds and categories are read off the rows, which is fine here:
nothing in a fairness fit is private (``declared`` is still False, as for any inferred schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gankit.errors import DataError, GankitError
from gankit.privacy.schema import MISSING_CELL, Column, Schema, Table, canonical, check_target

MAX_CATEGORIES = 10   # a numeric column with at most this many distinct values is read as categorical


@dataclass(frozen=True)
class PatientTable:
    description: str
    sensitive: tuple[str, ...]     # its protected columns, the first one the default
    load: Callable                 # () -> (features DataFrame, outcome name, bool outcome array)


def _flchain():
    from sksurv.datasets import load_flchain
    x, y = load_flchain()
    return x.drop(columns=["chapter"]), "death", y["death"]


def _whas500():
    from sksurv.datasets import load_whas500
    x, y = load_whas500()
    x = x.copy()
    x["gender"] = x["gender"].astype(str).map({"0": "male", "1": "female"})
    return x, "died", y["fstat"]


RACE = {"1": "white", "2": "black", "3": "hispanic", "4": "asian or pacific islander",
        "5": "american indian or alaskan native", "6": "other"}


def _actg320():
    from sksurv.datasets import load_aids
    x, y = load_aids("aids")
    x = x.copy()
    x["sex"] = x["sex"].astype(str).map({"1": "male", "2": "female"})
    x["raceth"] = x["raceth"].astype(str).map(RACE)
    return x, "event", y["censor"]


PATIENT_TABLES = {
    "flchain": PatientTable("serum free light chains: 7,874 people, death during follow-up", ("sex",), _flchain),
    "whas500": PatientTable("Worcester heart attack study: 500 patients, dead at last follow-up", ("gender",),
                            _whas500),
    "actg320": PatientTable("ACTG 320 AIDS trial: 1,151 patients, AIDS-defining event or death", ("sex", "raceth"),
                            _actg320),
}


def patient_table(name: str) -> Table:
    """A scikit-survival patient table as a Table with a yes/no target (see the module doc)."""
    if name not in PATIENT_TABLES:
        raise DataError(f"unknown patient table {name!r}; built in: {', '.join(PATIENT_TABLES)}")
    try:
        frame, outcome, event = PATIENT_TABLES[name].load()
    except ImportError:   # a development extra, not a runtime dependency
        raise GankitError(f"the {name} table ships with scikit-survival: pip install scikit-survival") from None
    frame = frame.copy()
    frame[outcome] = np.where(np.asarray(event, dtype=bool), "yes", "no")
    return table_from_frame(frame, target=outcome, source=name)


def table_from_frame(frame, target: str | None = None, source: str = "DataFrame") -> Table:
    """A pandas DataFrame as a Table: categorical, object and bool columns (and numbers with at most
    MAX_CATEGORIES distinct values) become categorical columns; the rest numeric. Missing cells
    (NaN, None) are kept as missing values, as in a CSV."""
    if target is not None and target not in frame.columns:
        raise DataError(f"{source}: target column {target!r} is not in the table "
                        f"({', '.join(map(str, frame.columns))})")
    columns, data = [], {}
    for name in frame.columns:
        column, values = _column(str(name), frame[name], str(name) == target, source)
        columns.append(column)
        data[column.name] = values
    schema = Schema(columns, target, declared=False)
    schema.check(source)
    table = Table(schema, data)
    check_target(table, source)
    return table


def _column(name: str, series, is_target: bool, source: str) -> tuple[Column, np.ndarray]:
    import pandas as pd
    missing = series.isna().to_numpy()
    if missing.all():
        raise DataError(f"{source}, column {name!r}: every cell is missing; drop the column")
    if missing.any() and is_target:
        raise DataError(f"{source}, column {name!r} (the target): {int(missing.sum())} missing value(s); drop "
                        f"those rows or give unknown outcomes a category of their own")
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and not is_target and series.dropna().nunique() > MAX_CATEGORIES:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        kind = "ordinal" if np.all(values[~missing] == np.round(values[~missing])) else "continuous"
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        return Column(name, kind, lo, hi if hi > lo else lo + 1.0, missing=bool(missing.any())), values
    cells = np.array([MISSING_CELL if absent else canonical(str(v)) for v, absent in zip(series, missing)],
                     dtype=object)
    present = sorted(set(cells[~missing].tolist()))
    if all(_is_number(c) for c in present):
        present.sort(key=float)
    return Column(name, "categorical", categories=present, missing=bool(missing.any())), cells


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def keep_groups(table: Table, column: str, groups: list[str]) -> Table:
    """The rows whose ``column`` is one of ``groups``, with the column's category list cut to them."""
    col = table.schema.column(column)
    unknown = [g for g in groups if g not in col.categories]
    if unknown:
        raise DataError(f"column {column!r} has no group(s) {', '.join(map(repr, unknown))}; it has "
                        f"{', '.join(map(repr, col.categories))}")
    rows = np.flatnonzero(np.isin(table.data[column], groups))
    columns = [Column(c.name, c.type, c.min, c.max, [g for g in c.categories if g in groups], c.missing)
               if c.name == column else c for c in table.schema.columns]
    schema = Schema(columns, table.schema.target, table.schema.declared)
    return Table(schema, {k: v[rows] for k, v in table.data.items()})


def frame_as_table(frame, schema: Schema, source: str = "DataFrame") -> Table:
    """The columns of ``frame`` that ``schema`` names, in the form a Table holds them (floats for numbers,
    canonical strings for categories; missing cells as missing values). Extra columns are ignored."""
    missing = [c.name for c in schema.columns if c.name not in frame.columns and c.name != schema.target]
    if missing:
        raise DataError(f"{source}: column(s) {', '.join(map(repr, missing))} are missing; the model reads "
                        f"{', '.join(c.name for c in schema.features())}")
    data = {}
    for col in schema.columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        absent = series.isna().to_numpy()
        if col.numeric:
            try:
                data[col.name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise DataError(f"{source}, column {col.name!r}: expected numbers") from None
            continue
        cells = np.array([MISSING_CELL if a else canonical(str(v)) for v, a in zip(series, absent)], dtype=object)
        unknown = sorted(set(cells.tolist()) - set(col.levels))
        if unknown:
            raise DataError(f"{source}, column {col.name!r}: unknown category {unknown[0]!r}; the model knows "
                            f"{', '.join(map(repr, col.levels))}")
        data[col.name] = cells
    return Table(schema, data)
