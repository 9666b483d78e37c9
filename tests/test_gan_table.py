"""The GAN table benchmark keeps every measured row: run folders may vanish, the committed record stays."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gan_table  # noqa: E402


def _metrics(fid: float) -> dict:
    return {"n": 100, "step": 10, "elapsed_s": 3.0, "classes": {"kl_to_uniform": 0.1},
            "quality": {"generated": {"fid": fid, "kid_mean": 1.0, "kid_std": 0.1, "precision": 0.5,
                                      "recall": 0.4, "density": 0.9}, "floor": {"fid": 1.0}},
            "memorization": {"copying": {"generated": {"z_u": 2.0, "tau": 20}, "floor": {"z_u": 0.0}}}}


def _run_folder(runs: Path, label: str, dataset: str, fid: float, seed: int = 0) -> None:
    folder = runs / (f"{label}-{dataset}" + (f"-s{seed}" if seed else ""))
    folder.mkdir(parents=True)
    row = {"label": label, "dataset": dataset, "steps": 10, **({"seed": seed} if seed else {})}
    (folder / "table_row.json").write_text(json.dumps(row))
    (folder / "metrics.json").write_text(json.dumps(_metrics(fid)))


def test_run_folder_rows_replace_record_rows_and_the_rest_are_kept(tmp_path):
    record = tmp_path / "record.json"
    record.write_text(json.dumps([
        {"label": "dcgan", "dataset": "mnist", "steps": 5, "metrics": gan_table.compact(_metrics(50.0))},
        {"label": "lsgan", "dataset": "fashion-mnist", "steps": 5, "metrics": gan_table.compact(_metrics(60.0))},
    ]))
    runs = tmp_path / "runs"
    _run_folder(runs, "dcgan", "mnist", 40.0)
    _run_folder(runs, "gan2014", "mnist", 30.0)
    rows = gan_table.table_rows(runs, record)
    assert [(r["label"], r["dataset"]) for r in rows] == [("gan2014", "mnist"), ("dcgan", "mnist"),
                                                          ("lsgan", "fashion-mnist")]
    assert [r["metrics"]["quality"]["generated"]["fid"] for r in rows] == [30.0, 40.0, 60.0]


def test_compact_keeps_what_the_table_shows_and_renders_the_same():
    full = _metrics(12.5)
    small = gan_table.compact(full)
    assert "density" not in small["quality"]["generated"] and "classes" not in small
    r = {"label": "dcgan", "dataset": "mnist", "steps": 10, "train_s": 60.0}
    assert gan_table.row({**r, "metrics": small}) == gan_table.row({**r, "metrics": full})
    assert "12.50 (1.00)" in gan_table.row({**r, "metrics": small})


def test_collapse_and_copying_are_said_in_words():
    healthy, collapsed, copying = _metrics(10.0), _metrics(10.0), _metrics(10.0)
    collapsed["quality"]["generated"]["recall"] = 0.02
    copying["memorization"]["copying"]["generated"]["z_u"] = -5.0
    rows = [{"label": label, "dataset": "mnist", "metrics": gan_table.compact(m)}
            for label, m in (("dcgan", healthy), ("gan2014", collapsed), ("lsgan", copying))]
    text = "\n".join(gan_table.flags(rows))
    assert "`gan2014` on mnist: **mode collapse**, recall 0.02" in text
    assert "`lsgan` on mnist: **copies its training set**, C_T -5.00" in text
    assert "dcgan" not in text


def test_conditional_rows_show_class_accuracy_and_others_leave_it_blank():
    conditional = _metrics(10.0)
    conditional["quality"]["generated"]["class_accuracy"] = 0.734
    conditional["quality"]["floor"]["class_accuracy"] = 0.994
    r = {"label": "conditional", "dataset": "mnist", "steps": 10, "train_s": 60.0}
    assert "| 73.4 % (99.4 %) |" in gan_table.row({**r, "metrics": gan_table.compact(conditional)})
    assert "|  | 1.0 |" in gan_table.row({**r, "metrics": gan_table.compact(_metrics(10.0))})


def test_each_seed_is_its_own_row_and_old_rows_count_as_seed_0(tmp_path):
    record = tmp_path / "record.json"   # written before rows had seeds
    record.write_text(json.dumps([{"label": "dcgan", "dataset": "mnist", "steps": 5,
                                   "metrics": gan_table.compact(_metrics(50.0))}]))
    runs = tmp_path / "runs"
    _run_folder(runs, "dcgan", "mnist", 40.0, seed=2)
    _run_folder(runs, "dcgan", "mnist", 45.0, seed=1)
    rows = gan_table.table_rows(runs, record)
    assert [(r.get("seed", 0), r["metrics"]["quality"]["generated"]["fid"]) for r in rows] == \
        [(0, 50.0), (1, 45.0), (2, 40.0)]
    assert gan_table.row(rows[1]).startswith("| dcgan (seed 1) | mnist |")
