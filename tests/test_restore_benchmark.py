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
    rows = fits("camera", ["text", "pixels50"]) + fits("astronaut", bench.CELLS) + fits("chelsea", ["pixels50", "text"])
    assert bench.size_commands(rows) == [
        "python benchmarks/restore.py --size 256 --images astronaut --cells text,pixels50,noise25,box,sr4 --seeds 3",
        "python benchmarks/restore.py --size 256 --images camera,chelsea --cells text,pixels50 --seeds 3"]


def test_a_merge_adds_only_the_missing_fits_and_their_strips(tmp_path):
    def fit(cell, psnr):
        return {**JOB, "cell": cell, "psnr_es": psnr}
    target, pictures = tmp_path / "docs" / "rows.jsonl", tmp_path / "docs" / "img"
    bench.append(target, fit("text", 30.0))
    pictures.mkdir()
    (pictures / "restore_text_a_8px.png").write_bytes(b"the strip of the 30.0 fit")
    source = tmp_path / "out" / "rows.jsonl"
    for row in (fit("text", 31.0), fit("pixels50", 25.0), {**fit("pixels50", 26.0), "seed": 1}):
        bench.append(source, row)
    for cell in ("text", "pixels50"):
        (source.parent / "img").mkdir(exist_ok=True)
        (source.parent / "img" / f"restore_{cell}_a_8px.png").write_bytes(f"new {cell} strip".encode())
    taken = bench.merge(source, target, pictures)
    assert [(r["cell"], r["seed"]) for r in taken] == [("pixels50", 0), ("pixels50", 1)]
    assert [r["psnr_es"] for r in bench.read_rows(target)] == [30.0, 25.0, 26.0]   # the fit on file kept its row
    assert (pictures / "restore_text_a_8px.png").read_bytes() == b"the strip of the 30.0 fit"   # and its strip
    assert (pictures / "restore_pixels50_a_8px.png").read_bytes() == b"new pixels50 strip"
    assert bench.merge(source, target, pictures) == []   # merging twice adds nothing
    with pytest.raises(SystemExit, match="out/nothing.jsonl: no such rows file"):
        bench.merge(tmp_path / "out" / "nothing.jsonl", target, pictures)
