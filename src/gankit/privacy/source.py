"""Where a fit's tables come from: a CSV (with its schema and held-out split) or a built-in example.

    train, holdout, source = load_training_table("patients.csv", target="outcome", schema=None)
    train, holdout = load_fitted_tables(model)      # the same split again, for the report
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from gankit.errors import DataError, GankitError
from gankit.privacy.schema import Schema, infer_schema, load_schema

# Fewer training rows make neither a model nor a report worth reading: the report's detection
# test is 5-fold, and DP noise on a handful of rows leaves nothing of them.
MIN_TRAIN_ROWS = 20


def load_training_table(data: str, target: Optional[str] = None, schema: Optional[Path] = None,
                        holdout: float = 0.2, seed: int = 0):
    """(train, held-out, source record) for a CSV file or a built-in example name."""
    from gankit.privacy import EXAMPLES, load_example, read_csv, split_table
    if data in EXAMPLES and not Path(data).exists():
        if schema is not None:
            raise GankitError(f"{data} is a built-in example with its own declared schema; drop --schema")
        train, hold = load_example(data)
        if target not in (None, train.schema.target):
            raise GankitError(f"the {data} example's target is {train.schema.target!r}, not {target!r}")
        return train, hold, {"example": data}
    path = Path(data)
    if not path.is_file():
        raise GankitError(f"{data} is neither a CSV file nor a built-in example ({', '.join(EXAMPLES)})")
    spec = csv_schema(path, target, schema)
    train, hold = split_table(read_csv(path, spec), holdout, seed)
    check_split(path, train, hold, holdout)
    return train, hold, {"csv": str(path.resolve()), "holdout": holdout, "split_seed": seed,
                         "schema": str(Path(schema).resolve()) if schema else None}


def csv_schema(path: Path, target: Optional[str], schema: Optional[Path]) -> Schema:
    """A CSV's schema, declared (``schema``) or inferred, with its outcome column named and present."""
    spec = load_schema(schema) if schema else infer_schema(path, target)
    if target is not None:
        if spec.target not in (None, target):
            raise GankitError(f"--target {target!r} differs from the schema's target {spec.target!r}")
        spec.target = target
        spec.check(str(schema or path))
    if spec.target is None:
        raise GankitError("name the outcome column with --target COLUMN (or 'target:' in the schema)")
    spec.column(spec.target)
    return spec


def check_split(path: Path, train, hold, holdout: float) -> None:
    """Enough training rows for a fit, and some held-out rows for its report."""
    if len(train) < MIN_TRAIN_ROWS:
        raise DataError(f"{path}: {len(train) + len(hold)} rows give {len(train)} training rows (after holding out "
                        f"{len(hold)}); a fit needs at least {MIN_TRAIN_ROWS}")
    if not len(hold):
        raise DataError(f"{path}: --holdout {holdout:g} of {len(train)} rows holds out no row (the split is "
                        f"stratified by the target); the report needs some: raise --holdout")


def load_fitted_tables(model, data: Optional[Path] = None):
    """The training and held-out tables a model was fitted on (the split is re-made from its record).

    ``data``: the training CSV when it moved since the fit."""
    from gankit.privacy import load_example, read_csv, split_table
    source = model.source or {}
    if "example" in source:
        return load_example(source["example"])
    path = data or (Path(source["csv"]) if "csv" in source else None)
    if path is None or not Path(path).is_file():
        raise GankitError(f"the training CSV {path} is not there; pass it with --data")
    table = read_csv(path, model.schema)
    train, hold = split_table(table, source["holdout"], source["split_seed"])
    if len(train) != model.n_train:
        raise GankitError(f"{path} gives {len(train)} training rows, the model was fitted on {model.n_train}; "
                          f"is it the same file?")
    return train, hold
