"""Table schemas (YAML) and CSV reading with errors that name the column and the line.

A schema says, for every column, its type and the public facts the model may use
without spending privacy budget: bounds for numbers, the category list for
categories. Declare it when you can::

    target: diagnosis
    columns:
      - {name: mean radius, type: continuous, min: 6.0, max: 30.0}
      - {name: age, type: ordinal, min: 18, max: 90}        # integers, modelled as continuous
      - {name: sex, type: categorical, categories: [female, male]}
      - {name: cholesterol, type: continuous, min: 80, max: 320, missing: true}
      - {name: diagnosis, type: categorical, categories: [benign, malignant]}

Missing values. A cell that is empty or reads NA, N/A, NaN, null, none or ? (any case)
is missing, unless it is one of the column's declared categories. A column that may
hold them says ``missing: true``: a categorical column then gets "missing" as one more
category, a numeric one a missingness indicator beside its value (transform.py), and
synthetic rows have missing cells (written back as empty cells) at the rate the model
learnt. Nothing is imputed. The target column may not be missing: the model conditions
on it. In memory a missing number is NaN and a missing category is ``MISSING_CELL`` ("").

When no schema is given, ``infer_schema`` reads bounds, categories and which columns
have missing values off the data. Those are then facts about the private records that
the (epsilon, delta) guarantee does NOT cover (a min or max is one patient's value; a
column with one missing cell says that one patient lacks it), so inference warns and
the model and report record ``declared: false``.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from gankit.checkpoint import atomic_write_text
from gankit.errors import DataError

TYPES = ("continuous", "ordinal", "categorical")
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MISSING_CELL = ""              # a missing category in memory, and any missing cell in a written CSV
MAX_INFERRED_CATEGORIES = 10   # a numeric column with at most this many values is inferred categorical
MAX_TEXT_CATEGORIES = 50       # a text column with more distinct values looks like free text or an ID
MIN_NUMERIC_SHARE = 0.5        # a column with more numbers than this (and many values) is numeric with junk
MIN_ID_ROWS = 20               # all-distinct values in fewer rows are no evidence of an identifier
MAX_PLACEHOLDERS = 4           # this few distinct texts beside many numbers are placeholders ('n.d.', '<5')
SHOWN_VALUES = 4               # how many offending values or lines an error lists


class SchemaLeakWarning(UserWarning):
    """Bounds, categories or missingness were read off the private data: not covered by epsilon."""


class IdentifierWarning(UserWarning):
    """An inferred column looks like a record identifier (every value distinct)."""


@dataclass
class Column:
    name: str
    type: str                        # continuous | ordinal | categorical
    min: float | None = None         # numeric types
    max: float | None = None
    categories: list[str] | None = None  # categorical
    missing: bool = False            # may hold missing values (modelled, see the module doc)

    @property
    def numeric(self) -> bool:
        return self.type != "categorical"

    @property
    def levels(self) -> list[str]:
        """A categorical column's values as encoded: its categories, then MISSING_CELL if it may be missing."""
        return list(self.categories) + ([MISSING_CELL] if self.missing else [])

    def is_missing(self, values: np.ndarray) -> np.ndarray:
        """Which of this column's in-memory values are missing."""
        if self.numeric:
            return np.isnan(values.astype(np.float64))
        return np.array([v == MISSING_CELL for v in values], dtype=bool)

    def to_dict(self) -> dict:
        bounds = {"min": self.min, "max": self.max} if self.numeric else {"categories": list(self.categories)}
        # written only when set: schemas and model files of columns that are never missing stay as they were
        return {"name": self.name, "type": self.type, **bounds, **({"missing": True} if self.missing else {})}


@dataclass
class Schema:
    columns: list[Column]
    target: str | None = None
    declared: bool = True            # False: inferred from the private data (leaks, see module doc)
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"column {name!r} is not in the schema; columns: {', '.join(self.names)}")

    def features(self) -> list[Column]:
        return [c for c in self.columns if c.name != self.target]

    def to_dict(self) -> dict:
        return {"target": self.target, "declared": self.declared, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, raw: dict, source: str = "schema") -> Schema:
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list):
            raise DataError(f"{source}: expected a mapping with a 'columns' list")
        unknown = set(raw) - {"target", "declared", "columns"}
        if unknown:
            raise DataError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"allowed: target, declared, columns")
        columns = [_column_from_dict(c, source, i) for i, c in enumerate(raw["columns"])]
        schema = cls(columns, raw.get("target"), bool(raw.get("declared", True)))
        schema.check(source)
        return schema

    def check(self, source: str = "schema") -> None:
        seen = set()
        for c in self.columns:
            if c.name in seen:
                raise DataError(f"{source}: column {c.name!r} appears twice")
            seen.add(c.name)
            if c.numeric and not math.isfinite(c.max - c.min):
                raise DataError(f"{source}: column {c.name!r}: its range [{c.min:g}, {c.max:g}] is too wide for "
                                f"float arithmetic (max - min overflows); if huge values stand for missing ones, "
                                f"write those as empty cells, else rescale the column")
        if self.target is not None:
            target = self.column(self.target)
            if target.type != "categorical":
                raise DataError(f"{source}: target column {self.target!r} must be categorical "
                                f"(it is {target.type}); binarize a numeric outcome first")
            if target.missing:
                raise DataError(f"{source}: target column {self.target!r} cannot be 'missing: true': the model "
                                f"conditions on it; give unknown outcomes a category of their own or drop them")

    def missing_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.missing]


def _column_from_dict(raw: dict, source: str, index: int) -> Column:
    where = f"{source}: column #{index + 1}"
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise DataError(f"{where}: expected a mapping with 'name' and 'type'")
    name, kind = str(raw["name"]), raw["type"]
    where = f"{source}: column {name!r}"
    if kind not in TYPES:
        raise DataError(f"{where}: unknown type {kind!r}; use one of {', '.join(TYPES)}")
    allowed = {"name", "type", "missing"} | ({"categories"} if kind == "categorical" else {"min", "max"})
    extra = set(raw) - allowed
    if extra:
        raise DataError(f"{where}: key(s) {', '.join(sorted(extra))} do not apply to a {kind} column")
    missing = raw.get("missing", False)
    if not isinstance(missing, bool):
        raise DataError(f"{where}: 'missing' must be true or false, got {missing!r}")
    if kind == "categorical":
        cats = raw.get("categories")
        if not isinstance(cats, list) or len(cats) < 1:
            raise DataError(f"{where}: a categorical column needs a non-empty 'categories' list")
        cats = [canonical(str(v)) for v in cats]
        if len(set(cats)) != len(cats):
            raise DataError(f"{where}: duplicate categories in {cats}")
        if MISSING_CELL in cats:
            raise DataError(f"{where}: an empty category; an empty cell is a missing value: say 'missing: true'")
        return Column(name, kind, categories=cats, missing=missing)
    try:
        lo, hi = float(raw["min"]), float(raw["max"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: a {kind} column needs numeric 'min' and 'max'") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise DataError(f"{where}: need finite min < max, got min={lo}, max={hi}")
    return Column(name, kind, lo, hi, missing=missing)


def canonical(text: str) -> str:
    """One spelling per category: strip spaces; numbers that are whole print as integers ("1.0" -> "1")
    while floats hold them exactly (not "1e308", which would print 309 digits)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if math.isfinite(value) and value.is_integer() and abs(value) < 2 ** 53 else text


def load_schema(path: str | Path) -> Schema:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DataError(f"cannot read schema {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"schema {path} is not valid YAML: {exc}") from None
    return Schema.from_dict(raw, str(path))


def save_schema(schema: Schema, path: str | Path) -> None:
    header = ("# gankit table schema. declared: false means bounds, categories and 'missing: true' (the column\n"
              "# may hold missing values) were read off the private data (not covered by epsilon); edit them to\n"
              "# public values and set declared: true.\n")
    atomic_write_text(Path(path), header + yaml.safe_dump(schema.to_dict(), sort_keys=False, allow_unicode=True))


# --- tables ----------------------------------------------------------------------------

@dataclass(eq=False)
class Table:
    """Columns by name: float64 arrays for numeric columns, arrays of str for categorical ones."""

    schema: Schema
    data: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def subset(self, idx: np.ndarray) -> Table:
        return Table(self.schema, {k: v[idx] for k, v in self.data.items()})

    def target_codes(self) -> np.ndarray:
        """The target column as class indices into its category list."""
        col = self.schema.column(self.schema.target)
        lookup = {c: i for i, c in enumerate(col.categories)}
        return np.array([lookup[v] for v in self.data[col.name]], dtype=np.int64)

    def to_csv(self, path: str | Path | None = None) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.schema.names)
        columns = [_format_column(c, self.data[c.name]) for c in self.schema.columns]
        writer.writerows(zip(*columns))
        if path is not None:
            atomic_write_text(Path(path), out.getvalue())
        return out.getvalue()


def _format_column(col: Column, values: np.ndarray) -> list[str]:
    if col.type == "categorical":
        return [str(v) for v in values]  # a missing category is already MISSING_CELL
    if col.type == "ordinal":
        return [MISSING_CELL if math.isnan(v) else str(int(round(v))) for v in values]
    return [MISSING_CELL if math.isnan(v) else f"{v:.6g}" for v in values]


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save the table as a UTF-8 CSV") from None
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if len(rows) < 2:
        raise DataError(f"{path}: need a header line and at least one data line")
    header = [h.strip() for h in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
    return header, rows[1:]


def _cells(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    j = header.index(name)
    return [row[j].strip() for row in rows]


def _missing_cells(cells: list[str], categories: list[str] | None = None) -> np.ndarray:
    """Which cells are missing values; a declared category that reads like one (e.g. 'none') is a value."""
    declared = set(categories or ())
    return np.array([c.lower() in MISSING and canonical(c) not in declared for c in cells], dtype=bool)


def _lines(mask: np.ndarray) -> str:
    """'line 4' or 'lines 4, 9, 12, 30 and 2 more': the CSV lines (the header is line 1) where ``mask`` holds."""
    lines = [str(i + 2) for i in np.flatnonzero(mask)]
    more = f" and {len(lines) - SHOWN_VALUES} more" if len(lines) > SHOWN_VALUES else ""
    return ("line " if len(lines) == 1 else "lines ") + ", ".join(lines[:SHOWN_VALUES]) + more


def _missing_target(path: Path, name: str, missing: np.ndarray) -> DataError:
    return DataError(f"{path}, column {name!r} (the target): missing value on {_lines(missing)}; the model "
                     f"conditions on the outcome of every row: drop those rows or give unknown outcomes a "
                     f"category of their own (e.g. 'unknown')")


def _check_missing_allowed(path: Path, schema: Schema, col: Column, cells: list[str], missing: np.ndarray) -> None:
    if not missing.any():
        return
    if col.name == schema.target:
        raise _missing_target(path, col.name, missing)
    if not col.missing:
        row = int(np.flatnonzero(missing)[0])
        raise DataError(f"{path}, line {row + 2}, column {col.name!r}: missing value ({cells[row]!r}) and the "
                        f"schema does not allow one; add 'missing: true' to the column to model missing values")


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _numbers(path: Path, name: str, cells: list[str], missing: np.ndarray) -> np.ndarray:
    """The cells as floats, NaN where ``missing``; a non-number is an error naming its line."""
    values = np.full(len(cells), np.nan)
    for line, (cell, absent) in enumerate(zip(cells, missing), start=2):
        if absent:
            continue
        value = _number(cell)
        if value is None:
            raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a number "
                            f"(the column is numeric)")
        if not math.isfinite(value):
            raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a finite number")
        values[line - 2] = value
    return values


def read_csv(path: str | Path, schema: Schema) -> Table:
    """Read ``path`` against ``schema``. Values outside declared bounds are clipped (with a warning)."""
    path = Path(path)
    header, rows = _read_rows(path)
    missing = [n for n in schema.names if n not in header]
    extra = [n for n in header if n not in schema.names]
    if missing:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, missing))} of the schema are not in the header")
    if extra:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, extra))} are not in the schema; "
                        f"add them to the schema or drop them from the file")
    data = {}
    for col in schema.columns:
        cells = _cells(header, rows, col.name)
        absent = _missing_cells(cells, col.categories)
        _check_missing_allowed(path, schema, col, cells, absent)
        data[col.name] = _categories(path, col, cells, absent) if col.type == "categorical" else \
            _clipped(path, col, _numbers(path, col.name, cells, absent))
    table = Table(schema, data)
    check_target(table, str(path))
    return table


def _categories(path: Path, col: Column, cells: list[str], missing: np.ndarray) -> np.ndarray:
    allowed = set(col.categories)
    values = [MISSING_CELL if absent else canonical(c) for c, absent in zip(cells, missing)]
    for line, (value, absent) in enumerate(zip(values, missing), start=2):
        if not absent and value not in allowed:
            raise DataError(f"{path}, line {line}, column {col.name!r}: unknown category {value!r}; "
                            f"the schema allows {', '.join(map(repr, col.categories))}")
    return np.array(values, dtype=object)


def _clipped(path: Path, col: Column, values: np.ndarray) -> np.ndarray:
    outside = np.flatnonzero((values < col.min) | (values > col.max))  # NaN (missing) compares False
    if len(outside):
        warnings.warn(f"{path}, column {col.name!r}: {len(outside)} value(s) outside the schema bounds "
                      f"[{col.min:g}, {col.max:g}] were clipped (first at line {outside[0] + 2})", stacklevel=3)
    return np.clip(values, col.min, col.max)


def check_target(table: Table, source: str) -> None:
    target = table.schema.target
    if target is None:
        return
    present = sorted(set(table.data[target].tolist()))
    if len(present) < 2:
        raise DataError(f"{source}: target column {target!r} has only one class ({present[0]!r}); "
                        f"a conditional model and the utility report need at least two")


def infer_schema(path: str | Path, target: str | None = None) -> Schema:
    """Guess types, bounds, categories and missingness from the CSV itself; warns that these facts leak."""
    path = Path(path)
    header, rows = _read_rows(path)
    if target is not None and target not in header:
        raise DataError(f"{path}: target column {target!r} is not in the header ({', '.join(header)})")
    columns = [_infer_column(path, name, _cells(header, rows, name), name == target) for name in header]
    may_be_missing = [c.name for c in columns if c.missing]
    missing_note = (f", nor is which columns have missing values ({', '.join(map(repr, may_be_missing))}; one "
                    f"missing cell is one record's fact)" if may_be_missing else "")
    warnings.warn(SchemaLeakWarning(
        f"no schema given: bounds and categories of {path.name} were read off the data itself. They are "
        f"not covered by the privacy guarantee (a min or max is one record's value){missing_note}. Declare a "
        f"schema with public bounds for a real release (gankit writes the inferred one as schema.yaml to edit)."),
        stacklevel=2)
    schema = Schema(columns, target, declared=False)
    schema.check(str(path))
    return schema


def _infer_column(path: Path, name: str, cells: list[str], is_target: bool) -> Column:
    missing = _missing_cells(cells)
    if missing.any() and is_target:
        raise _missing_target(path, name, missing)
    if missing.all():
        raise DataError(f"{path}, column {name!r}: every cell is missing; drop the column")
    present = [c for c, absent in zip(cells, missing) if not absent]
    texts = [c for c in present if _number(c) is None]
    distinct = sorted(set(canonical(c) for c in present))
    if texts and _numbers_with_placeholders(present, texts):
        raise _not_numbers(path, name, cells, missing)
    if texts or is_target or len(distinct) <= MAX_INFERRED_CATEGORIES:
        if not texts:
            distinct.sort(key=float)
        if len(distinct) > MAX_TEXT_CATEGORIES and not is_target:
            raise DataError(f"{path}, column {name!r}: {len(distinct)} distinct text values; this looks like "
                            f"free text or an identifier; drop it or declare it in a schema")
        if not is_target:
            _warn_if_identifier(path, name, [canonical(c) for c in present])
        return Column(name, "categorical", categories=distinct, missing=bool(missing.any()))
    values = _numbers(path, name, cells, missing)[~missing]
    kind = "ordinal" if np.all(values == np.round(values)) else "continuous"
    if kind == "ordinal":
        _warn_if_identifier(path, name, values.tolist())
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:  # a constant column: any range holds it (lo + 1 would vanish in rounding for huge lo)
        hi = lo + max(1.0, abs(lo) * 1e-6)
    return Column(name, kind, lo, hi, missing=bool(missing.any()))


def _numbers_with_placeholders(present: list[str], texts: list[str]) -> bool:
    """Many distinct numbers beside text that is either rare or a few repeated placeholders ('n.d.', '<5'):
    a numeric column whose text cells need fixing, not a categorical one."""
    many_numbers = len({canonical(c) for c in present if _number(c) is not None}) > MAX_INFERRED_CATEGORIES
    return many_numbers and (len(texts) < (1 - MIN_NUMERIC_SHARE) * len(present)
                             or len(set(texts)) <= MAX_PLACEHOLDERS)


def _not_numbers(path: Path, name: str, cells: list[str], missing: np.ndarray) -> DataError:
    """A mostly numeric column with some text in it: name the first line and the text values."""
    bad = [(line, c) for line, (c, absent) in enumerate(zip(cells, missing), start=2)
           if not absent and _number(c) is None]
    counts = Counter(c for _, c in bad)
    shown = ", ".join(f"{value!r} ({k} cell{'s' if k > 1 else ''})" for value, k in counts.most_common(SHOWN_VALUES))
    if len(counts) > SHOWN_VALUES:
        shown += f" and {len(counts) - SHOWN_VALUES} other values"
    line, cell = bad[0]
    return DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a number, and the column is otherwise "
                     f"numeric (not numbers: {shown}); write missing values as empty cells or NA, fix the "
                     f"others, or declare the column categorical in a schema")


def _warn_if_identifier(path: Path, name: str, values: list) -> None:
    """Every value distinct, one per row: a row number or a record ID, which a synthesizer should not see."""
    if len(values) < MIN_ID_ROWS or len(set(values)) < len(values):
        return
    numeric = all(isinstance(v, float) for v in values)
    if numeric and max(values) - min(values) == len(values) - 1:
        what = f"distinct integers running from {min(values):g} to {max(values):g} without a gap: a row number?"
    else:
        what = ("distinct integers: a record identifier (patient number)?" if numeric else
                "distinct: a record identifier? Its category list is then every record's value, saved in the model.")
    warnings.warn(IdentifierWarning(
        f"{path}, column {name!r}: all {len(values)} values are {what} It would be synthesized like any "
        f"{'number' if numeric else 'category'}; drop identifiers before fitting, or declare the column in a "
        f"schema if it is a real measurement"), stacklevel=3)
