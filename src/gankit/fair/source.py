"""Where a fairness fit's table comes from: a CSV (read as `gankit synth` reads one) or a built-in patient table.

    table, source = load_table("patients.csv", target="outcome", schema=None)
    table, source = load_table("whas500")            # scikit-survival's table, its target "died"
    table = reload_table(model)                      # the same table again, for the report
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

from gankit.errors import DataError, GankitError
from gankit.fair.tables import PATIENT_TABLES, patient_table
from gankit.privacy.schema import SchemaLeakWarning, Table, read_csv
from gankit.privacy.source import csv_schema


def load_table(data: str, target: Optional[str] = None, schema: Optional[Path] = None) -> tuple[Table, dict]:
    """(the whole table, a record of where it came from) for a CSV file or a patient table's name."""
    if data in PATIENT_TABLES and not Path(data).exists():
        if schema is not None:
            raise GankitError(f"{data} is a built-in table with its own columns; drop --schema")
        table = patient_table(data)
        if target not in (None, table.schema.target):
            raise GankitError(f"the {data} table's target is {table.schema.target!r}, not {target!r}")
        return table, {"table": data}
    path = Path(data)
    if not path.is_file():
        raise GankitError(f"{data} is neither a CSV file nor a built-in table ({', '.join(PATIENT_TABLES)})")
    with warnings.catch_warnings():
        # the synth warning that inferred bounds escape epsilon: a fairness fit releases nothing privately
        warnings.simplefilter("ignore", SchemaLeakWarning)
        spec = csv_schema(path, target, schema)
    return read_csv(path, spec), {"csv": str(path.resolve()),
                                  "schema": str(Path(schema).resolve()) if schema else None}


def reload_table(source: dict, schema, data: Optional[Path] = None) -> Table:
    """The table a model was fitted on, from its source record (``data``: the CSV, when it moved)."""
    if "table" in source:
        return patient_table(source["table"])
    path = data or (Path(source["csv"]) if source.get("csv") else None)
    if path is None or not Path(path).is_file():
        raise GankitError(f"the training CSV {path} is not there; pass it with --data")
    try:
        return read_csv(path, schema)
    except DataError as exc:
        raise DataError(f"{exc} (is it the table the model was fitted on?)") from None
