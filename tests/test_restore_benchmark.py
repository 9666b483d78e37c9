"""The restore benchmark's plumbing: two runs on one rows file share its queue (a claim is taken once, and a new
run forgets only the claims of stopped runs), the page's commands run no more than its rows hold, and a run
kept apart joins the page without replacing a fit on file."""
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import restore as bench  # noqa: E402
import restore_page as page  # noqa: E402
import restore_rows as on_file  # noqa: E402


def _args(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    return SimpleNamespace(rows=tmp_path / "rows.jsonl")


JOB = {"size": 8, "image": "a", "cell": "text", "method": "dip", "seed": 0, "recipe": "cpu_inpaint"}


def test_a_fit_is_claimed_once(tmp_path, monkeypatch):
    args = _args(tmp_path, monkeypatch)
    assert bench.claim(args, JOB)
    assert not bench.claim(args, JOB)
    assert not bench.claim(args, dict(JOB))
    assert bench.claim(args, {**JOB, "seed": 1})
    assert [p.name for p in bench._claims(args).iterdir() if p.name.startswith(".")] == []   # no temp files left


def test_a_new_run_keeps_live_claims_and_drops_stale_ones(tmp_path, monkeypatch):
    args = _args(tmp_path, monkeypatch)
    assert bench.claim(args, JOB)   # held by this (live) process
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = bench._claim_path(args, {**JOB, "seed": 1})
    stale.write_text(finished.stdout.strip())   # its process has ended
    empty = bench._claim_path(args, {**JOB, "seed": 2})
    empty.write_text("")   # written by an older version of the benchmark
    bench.drop_stale_claims(args)
    assert bench._claim_path(args, JOB).exists()
    assert not stale.exists() and not empty.exists()
    assert not bench.claim(args, JOB) and bench.claim(args, {**JOB, "seed": 1})


def test_rows_files_of_one_name_in_two_folders_are_two_queues(tmp_path, monkeypatch):
    args = _args(tmp_path, monkeypatch)
    other = SimpleNamespace(rows=tmp_path / "elsewhere" / "rows.jsonl")
    assert bench._claims(args) != bench._claims(other)
    assert bench.claim(args, JOB) and bench.claim(other, JOB)


def test_each_set_of_photos_with_the_same_cells_gets_its_own_command():
    def fits(image, cells, seeds=3):
        return [{**JOB, "size": 256, "image": image, "cell": c, "seed": s} for c in cells for s in range(seeds)]
    rows = fits("camera", ["text", "pixels50"]) + fits("astronaut", on_file.CELLS) + fits("chelsea", ["pixels50", "text"])
    assert page.size_commands(rows) == [
        "python benchmarks/restore.py --size 256 --images astronaut --cells text,pixels50,noise25,box,sr4 --seeds 3",
        "python benchmarks/restore.py --size 256 --images camera,chelsea --cells text,pixels50 --seeds 3"]


def test_a_merge_adds_only_the_missing_fits_and_their_strips(tmp_path):
    def fit(cell, psnr):
        return {**JOB, "cell": cell, "psnr_es": psnr}
    target, pictures = tmp_path / "docs" / "rows.jsonl", tmp_path / "docs" / "img"
    on_file.append(target, fit("text", 30.0))
    pictures.mkdir()
    (pictures / "restore_text_a_8px.png").write_bytes(b"the strip of the 30.0 fit")
    source = tmp_path / "out" / "rows.jsonl"
    for row in (fit("text", 31.0), fit("pixels50", 25.0), {**fit("pixels50", 26.0), "seed": 1}):
        on_file.append(source, row)
    for cell in ("text", "pixels50"):
        (source.parent / "img").mkdir(exist_ok=True)
        (source.parent / "img" / f"restore_{cell}_a_8px.png").write_bytes(f"new {cell} strip".encode())
    taken = on_file.merge(source, target, pictures)
    assert [(r["cell"], r["seed"]) for r in taken] == [("pixels50", 0), ("pixels50", 1)]
    assert [r["psnr_es"] for r in on_file.read_rows(target)] == [30.0, 25.0, 26.0]   # the fit on file kept its row
    assert (pictures / "restore_text_a_8px.png").read_bytes() == b"the strip of the 30.0 fit"   # and its strip
    assert (pictures / "restore_pixels50_a_8px.png").read_bytes() == b"new pixels50 strip"
    assert on_file.merge(source, target, pictures) == []   # merging twice adds nothing
    with pytest.raises(SystemExit, match="out/nothing.jsonl: no such rows file"):
        on_file.merge(tmp_path / "out" / "nothing.jsonl", target, pictures)


def _fit(seed, es, best, best_step, planned=20, overrides=()):
    return {"image": "astronaut", "size": 16, "cell": "noise25", "method": "dip", "seed": seed,
            "recipe": "cpu_denoise", "overrides": list(overrides), "psnr_es": es, "ssim_es": 0.5, "es_pick": planned,
            "es_fired_at": None, "iterations_used": planned, "iterations_planned": planned, "psnr_last": es,
            "psnr_best": best, "best_step": best_step, "backtracks": 0, "wall_seconds": 1.0, "seconds_per_step": 0.05,
            "hardware": "test cpu", "precision": "fp32", "log": [(planned, es)]}


def test_a_fit_with_overrides_is_another_fit_and_gets_a_table_of_its_own(tmp_path, monkeypatch):
    shipped, longer = _fit(0, 20.0, 20.0, 20), _fit(0, 21.0, 21.5, 30, planned=40, overrides=["iterations=40"])
    (job,) = bench.dip_jobs(["astronaut"], 16, ["noise25"], 1, "cpu", ["iterations=40"])
    assert on_file.key(job) == on_file.key(longer) != on_file.key(shipped)   # the recipe's fit does not stand in for it
    args = _args(tmp_path, monkeypatch)
    assert bench.claim(args, shipped) and bench.claim(args, longer)
    assert on_file.row_stem(longer) == "noise25_astronaut_16px_iterations-40"   # its strip is kept apart

    rows = [shipped, _fit(1, 22.0, 22.0, 20), longer,
            {"image": "astronaut", "size": 16, "cell": "noise25", "method": "cbm3d", "psnr": 25.0, "seconds": 1.0}]
    section, fits = page.render(rows, "python benchmarks/restore.py", tmp_path, tmp_path)
    verdict = next(line for line in section.splitlines() if line.startswith("| Gaussian noise, sigma 25 | 16 |"))
    assert "| 2 (1) | 21.00 | 25.00 (cbm3d) | DIP misses cbm3d by 4.00 dB |" in verdict   # the shipped recipe only
    assert ("The best PSNR came in the last 5 % of the steps in every fit here: the recipe is likely too short for "
            "this size. Run for 40 steps (iterations=40, below), seed 0 of astronaut peaked at step 30 with 21.50 dB "
            "(+1.50 over its 20-step ES pick); its rule never fired.") in section
    changed = next(line for line in section.splitlines() if "| iterations=40 |" in line)
    assert changed.endswith("| 21.00 (1 seed) | 21.00 (1 seed) | 21.50 (30) | – | 20.00 (1 seed) | 20.00 (1 seed) "
                            "| 25.00 (cbm3d) |")
    assert "python benchmarks/restore.py --size 16 --images astronaut --cells noise25 --seeds 1 --set iterations=40" \
        in section
    assert "cpu_denoise iterations=40" in fits


def test_a_verdict_within_a_hundredth_of_a_db_is_a_tie(tmp_path):
    rows = [_fit(0, 25.002, 25.1, 5), {"image": "astronaut", "size": 16, "cell": "noise25", "method": "cbm3d",
                                       "psnr": 25.0, "seconds": 1.0}]
    section, _ = page.render(rows, "python benchmarks/restore.py", tmp_path, tmp_path)
    assert "| DIP ties cbm3d (to 0.01 dB) |" in section and "beats" not in section


def test_a_table_whose_fits_peaked_early_says_how_much_the_rest_of_the_run_lost(tmp_path):
    fits = [_fit(0, 20.0, 21.0, 3), {**_fit(1, 20.0, 22.0, 8), "es_fired_at": 12}, _fit(2, 20.0, 20.1, 19)]
    section, _ = page.render(fits, "python benchmarks/restore.py", tmp_path, tmp_path)
    assert ("The best PSNR came in the first 50 % of the steps in 2 of 3 fits here, and those fits' ES picks lie "
            "1.50 dB below it on average: the output got worse after its best, and the rule fired in 1 of 3 fits."
            ) in section
    section, _ = page.render(fits[:1] + [_fit(1, 20.0, 20.0, 15), _fit(2, 20.0, 20.1, 19)],
                             "python benchmarks/restore.py", tmp_path, tmp_path)
    assert "first 50 %" not in section   # one early fit of three is not the table's pattern
