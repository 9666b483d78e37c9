"""The detection benchmark's page: a held-out-only source (CycleGAN translations) joins the matrix as a
column no detector learnt from, and its numbers land where they belong."""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import detect  # noqa: E402

PERTURBATIONS = ("clean", "jpeg 50")
METHODS = (detect.CNN, "spectrum LR")


def _cell(row: str, trained_on: list[str], seed: int, cyclegan: float | None) -> dict:
    rng = random.Random(f"{row}{seed}")
    sources = list(detect.GENERATOR_STEPS) + (["cyclegan"] if cyclegan is not None else [])

    def scores(source: str) -> dict:
        ap = cyclegan if source == "cyclegan" else (1.0 if source in trained_on else rng.uniform(0.7, 0.99))
        return {"ap": ap, "accuracy": ap - 0.1, "real_accuracy": ap, "fake_accuracy": ap - 0.2}
    return {"dataset": "mnist", "row": row, "seed": seed, "trained_on": trained_on, "steps": 10, "n": 100,
            "train_s": 1.0, "eval_s": 1.0, "machine": "cpu", "command": "python benchmarks/detect.py matrix",
            "results": {m: {p: {s: scores(s) for s in sources} for p in PERTURBATIONS} for m in METHODS}}


def _generators() -> list[dict]:
    gans = [{"label": g, "dataset": "mnist", "recipe": "r", "overrides": [], "steps": 1, "recipe_steps": 1,
             "fid": 50.0, "fid_floor": 1.0, "train_s": 60, "machine": "cpu", "command": "c"}
            for g in detect.GENERATOR_STEPS]
    return gans + [{"label": "cyclegan", "dataset": "mnist", "recipe": "cyclegan_cpu", "overrides": ["x=1"],
                    "steps": 8, "recipe_steps": 8, "fid": 40.0, "fid_floor": None, "fid_samples": 64,
                    "train_s": 60, "machine": "cpu", "command": "c"}]


def test_the_translations_are_a_column_with_no_row_and_no_leave_one_out():
    cells = [_cell(row, trained_on, seed, 0.5) for row, trained_on in detect.matrix_rows() for seed in (0, 1)]
    table = detect.matrix_table(cells, detect.CNN, "clean", "ap")
    assert table[0].split("|")[-3].strip() == "cyclegan"
    assert not any(line.startswith("| cyclegan") for line in table)           # nobody trains on it
    assert all(line.split("|")[-3].strip() == "50.0 ± 0.0" for line in table[2:-1])
    assert table[-1].split("|")[-3].strip() == "–"                            # no leave-one-out cell
    page = detect.section({"generators": _generators(), "cells": cells})
    assert "translation run's, n = 64" in page and "tested on cyclegan, clean" in page   # AP 50 % fails
    assert "| conditional | cyclegan | mean held-out |" in detect.experiments_page({"generators": _generators(),
                                                                                  "cells": cells})


def test_the_held_out_mean_counts_the_translations_where_a_cell_has_them():
    with_it = _cell("dcgan", ["dcgan"], 0, 0.0)
    without = _cell("dcgan", ["dcgan"], 0, None)
    _, held_with, _ = detect._own_and_held_out([with_it], detect.CNN, "clean", "ap")
    _, held_without, _ = detect._own_and_held_out([without], detect.CNN, "clean", "ap")
    assert held_with[0] == held_without[0] * 4 / 5   # four GANs held out, then a fifth source at AP 0
