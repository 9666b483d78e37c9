"""Table schemas (YAML) and CSV reading with errors that name the column and the line.

A schema says, for every column, its type and the public facts the model may use
without spending privacy budget: bounds for numbers, the category list for
categories. Declare it when you can::

    target: diagnosis
    columns:
      - {name: mean radius, type: continuous, min: 6.0, max: 30.0}
      - {name: age, type: ordinal, min: 18, max: 90}        # integers, modelled as continuous
      - {name: sex, type: categorical, categories: [female, male]}
      - {name: diagnosis, type: categorical, categories: [benign, malignant]}

When no schema is given, ``infer_schema`` reads bounds and categories off the data.
Those are then facts about the private records that the (epsilon, delta) guarantee
does NOT cover (a min or max is one patient's value), so inference warns and the
model and report record ``declared: false``.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from gankit.checkpoint import atomic_write_text
from gankit.errors import DataError

TYPES = ("continuous", "ordinal", "categorical")
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MAX_INFERRED_CATEGORIES = 10   # a numeric column with at most this many values is inferred categorical
MAX_TEXT_CATEGORIES = 50       # a text column with more distinct values looks like free text or an ID


class SchemaLeakWarning(UserWarning):
    """Bounds or categories were read off the private data: not covered by epsilon."""


@dataclass
class Column:
    name: str
    type: str                        # continuous | ordinal | categorical
    min: float | None = None         # numeric types
    max: float | None = None
    categories: list[str] | None = None  # categorical

    @property
    def numeric(self) -> bool:
        return self.type != "categorical"

    def to_dict(self) -> dict:
        if self.numeric:
            return {"name": self.name, "type": self.type, "min": self.min, "max": self.max}
        return {"name": self.name, "type": self.type, "categories": list(self.categories)}


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
        if self.target is not None:
            target = self.column(self.target)
            if target.type != "categorical":
                raise DataError(f"{source}: target column {self.target!r} must be categorical "
                                f"(it is {target.type}); binarize a numeric outcome first")


def _column_from_dict(raw: dict, source: str, index: int) -> Column:
    where = f"{source}: column #{index + 1}"
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise DataError(f"{where}: expected a mapping with 'name' and 'type'")
    name, kind = str(raw["name"]), raw["type"]
    where = f"{source}: column {name!r}"
    if kind not in TYPES:
        raise DataError(f"{where}: unknown type {kind!r}; use one of {', '.join(TYPES)}")
    allowed = {"name", "type", "categories"} if kind == "categorical" else {"name", "type", "min", "max"}
    extra = set(raw) - allowed
    if extra:
        raise DataError(f"{where}: key(s) {', '.join(sorted(extra))} do not apply to a {kind} column")
    if kind == "categorical":
        cats = raw.get("categories")
        if not isinstance(cats, list) or len(cats) < 1:
            raise DataError(f"{where}: a categorical column needs a non-empty 'categories' list")
        cats = [canonical(str(v)) for v in cats]
        if len(set(cats)) != len(cats):
            raise DataError(f"{where}: duplicate categories in {cats}")
        return Column(name, kind, categories=cats)
    try:
        lo, hi = float(raw["min"]), float(raw["max"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{where}: a {kind} column needs numeric 'min' and 'max'") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise DataError(f"{where}: need finite min < max, got min={lo}, max={hi}")
    return Column(name, kind, lo, hi)


def canonical(text: str) -> str:
    """One spelling per category: strip spaces; numbers that are whole print as integers ("1.0" -> "1")."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if math.isfinite(value) and value.is_integer() else text


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
    header = ("# gankit table schema. declared: false means bounds and categories were read off the\n"
              "# private data (not covered by epsilon); edit them to public values and set declared: true.\n")
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
        return [str(v) for v in values]
    if col.type == "ordinal":
        return [str(int(round(v))) for v in values]
    return [f"{v:.6g}" for v in values]


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


def _cells(path: Path, header: list[str], rows: list[list[str]], name: str) -> list[str]:
    """One column's cells, stripped; a missing value is an error naming the column and line."""
    j = header.index(name)
    cells = [row[j].strip() for row in rows]
    for line, cell in enumerate(cells, start=2):
        if cell.lower() in MISSING:
            raise DataError(f"{path}, line {line}, column {name!r}: missing value ({cell!r}); "
                            f"gankit does not impute: fill or drop the row first")
    return cells


def _numbers(path: Path, name: str, cells: list[str]) -> np.ndarray:
    values = np.empty(len(cells))
    for line, cell in enumerate(cells, start=2):
        try:
            values[line - 2] = float(cell)
        except ValueError:
            raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a number "
                            f"(the column is numeric)") from None
        if not math.isfinite(values[line - 2]):
            raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a finite number")
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
        cells = _cells(path, header, rows, col.name)
        data[col.name] = _categories(path, col, cells) if col.type == "categorical" else \
            _clipped(path, col, _numbers(path, col.name, cells))
    table = Table(schema, data)
    check_target(table, str(path))
    return table


def _categories(path: Path, col: Column, cells: list[str]) -> np.ndarray:
    allowed = set(col.categories)
    values = [canonical(c) for c in cells]
    for line, value in enumerate(values, start=2):
        if value not in allowed:
            raise DataError(f"{path}, line {line}, column {col.name!r}: unknown category {value!r}; "
                            f"the schema allows {', '.join(map(repr, col.categories))}")
    return np.array(values, dtype=object)


def _clipped(path: Path, col: Column, values: np.ndarray) -> np.ndarray:
    outside = np.flatnonzero((values < col.min) | (values > col.max))
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
    """Guess types, bounds and categories from the CSV itself; warns that these facts leak."""
    path = Path(path)
    header, rows = _read_rows(path)
    if target is not None and target not in header:
        raise DataError(f"{path}: target column {target!r} is not in the header ({', '.join(header)})")
    columns = [_infer_column(path, name, _cells(path, header, rows, name), name == target) for name in header]
    warnings.warn(SchemaLeakWarning(
        f"no schema given: bounds and categories of {path.name} were read off the data itself. They are "
        f"not covered by the privacy guarantee (a min or max is one record's value). Declare a schema "
        f"with public bounds for a real release (gankit writes the inferred one as schema.yaml to edit)."),
        stacklevel=2)
    schema = Schema(columns, target, declared=False)
    schema.check(str(path))
    return schema


def _infer_column(path: Path, name: str, cells: list[str], is_target: bool) -> Column:
    parsed = []
    for cell in cells:
        try:
            parsed.append(float(cell))
        except ValueError:
            parsed.append(None)
    numeric_share = sum(v is not None for v in parsed) / len(parsed)
    distinct = sorted(set(canonical(c) for c in cells))
    if numeric_share >= 0.9 and numeric_share < 1 and len(distinct) > MAX_INFERRED_CATEGORIES:
        _numbers(path, name, cells)  # raises, naming the first non-number's line
    if numeric_share < 1 or is_target or len(distinct) <= MAX_INFERRED_CATEGORIES:
        if numeric_share == 1:
            distinct.sort(key=float)
        if len(distinct) > MAX_TEXT_CATEGORIES and not is_target:
            raise DataError(f"{path}, column {name!r}: {len(distinct)} distinct text values; this looks like "
                            f"free text or an identifier; drop it or declare it in a schema")
        return Column(name, "categorical", categories=distinct)
    values = _numbers(path, name, cells)
    kind = "ordinal" if np.all(values == np.round(values)) else "continuous"
    lo, hi = float(values.min()), float(values.max())
    return Column(name, kind, lo, hi if hi > lo else lo + 1.0)
