"""The restore benchmark's rows: what the cells are, what makes two rows the same fit, and the rows file that
every fit is appended to (docs/records/restore_rows.jsonl) with the strips named after its fits."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

from results_doc import settings_slug

DEFAULT_SIZE = 128   # the CPU table's photo size
CELLS = ("text", "pixels50", "noise25", "box", "sr4")   # in priority order: the claims first
TASK = {"text": "inpaint", "pixels50": "inpaint", "box": "inpaint", "noise25": "denoise", "sr4": "superres"}
CELL_NAMES = {"text": "text overlay", "pixels50": "50 % missing pixels", "box": "central box (1/4 of each side)",
              "noise25": "Gaussian noise, sigma 25", "sr4": "super-resolution x4"}
STRONGEST = {"inpaint": "biharmonic", "denoise": "cbm3d", "superres": "lanczos"}
IMAGES = ("astronaut", "camera", "chelsea", "coffee")


def read_rows(path: Path) -> list[dict]:
    """The rows on file, the first of any repeated fit (two runs sharing a rows file may both do one)."""
    if not path.is_file():
        return []
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if key(row) not in seen:
                seen.add(key(row))
                rows.append(row)
    return rows


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:   # several workers append to one file: one locked line each
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(row) + "\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_UN)


def key(row: dict) -> tuple:
    """What makes two rows the same fit; a fit with --set overrides is another fit than its recipe's."""
    return (row["image"], row["size"], row["cell"], row["method"], row.get("seed", 0), row.get("recipe", ""),
            tuple(row.get("overrides") or ()))


def as_shipped(rows: list[dict]) -> list[dict]:
    """The DIP fits run with their recipe's own settings (no --set overrides): the ones averages and verdicts use."""
    return [r for r in rows if r["method"] == "dip" and not r.get("overrides")]


def classical(base: list[dict], image: str, size: int, cell: str, method: str) -> dict | None:
    """The row of one classical method (or the corrupted input) on one photo, size and cell, if measured."""
    return next((r for r in base if (r["image"], r["size"], r["cell"], r["method"]) == (image, size, cell, method)),
                None)


def merge(source: Path, target: Path, pictures: Path) -> list[dict]:
    """Add another run's rows (a scratch run, the device script's $OUT/rows.jsonl) that `target` lacks, and the
    strips of the fits taken, from `img/` beside `source`. A fit already on file keeps its row and its strip,
    so a picture never shows other numbers than its row."""
    if not source.is_file():
        raise SystemExit(f"--merge {source}: no such rows file")
    done = {key(r) for r in read_rows(target)}
    taken = [r for r in read_rows(source) if key(r) not in done]
    for row in taken:
        append(target, row)
        strip = source.parent / "img" / f"restore_{row_stem(row)}.png"
        if row["method"] == "dip" and row["seed"] == 0 and strip.is_file():
            pictures.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(strip, pictures / strip.name)
    return taken


def picture_stem(cell: str, image: str, size: int, overrides=()) -> str:
    """A fit's strip is docs/img/restore_<stem>.png; strips of another size than the CPU table's, or of a fit
    with overrides, kept apart."""
    changed = settings_slug(overrides)
    return f"{cell}_{image}" + ("" if size == DEFAULT_SIZE else f"_{size}px") + (f"_{changed}" if changed else "")


def row_stem(row: dict) -> str:
    return picture_stem(row["cell"], row["image"], row["size"], row.get("overrides") or ())
