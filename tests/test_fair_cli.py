"""`gankit fair fit | report` end to end on a small CSV: numbers out, files written, bad inputs on one line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from gankit.cli import app, main

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("one_thread")


def write_csv(path, n: int = 300, seed: int = 0, groups=("f", "m", "x")) -> None:
    """Age, a lab value with gaps, a proxy of the group, the group (three of them) and a yes/no outcome."""
    rng = np.random.default_rng(seed)
    code = rng.integers(0, len(groups), n)
    proxy = code + 0.5 * rng.normal(size=n)
    age = rng.integers(20, 90, n)
    lab = np.round(rng.normal(size=n), 3).astype(object)
    lab[rng.random(n) < 0.1] = ""
    y = np.where(proxy + (age - 55) / 20 + rng.normal(size=n) > 1, "yes", "no")
    lines = ["age,lab,proxy,group,outcome"] + [f"{a},{b},{p:.3f},{groups[c]},{o}"
                                               for a, b, p, c, o in zip(age, lab, proxy, code, y)]
    path.write_text("\n".join(lines) + "\n")


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.output.split())


def test_fit_and_report_on_a_csv_with_three_groups(tmp_path):
    write_csv(tmp_path / "p.csv")
    model = tmp_path / "model"
    out = invoke("fair", "fit", tmp_path / "p.csv", "--target", "outcome", "--sensitive", "group",
                 "--criterion", "odds", "-o", model, "--steps", 60, "--set", "curve='0,3'", "--run", tmp_path / "run", "--no-progress")
    assert "fitted debias (odds) on" in out and "equalized-odds difference" in out and "adversary accuracy" in out
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()
    out = invoke("fair", "report", model)
    assert "accuracy" in out and "AUROC" in out and "demographic-parity difference" in out
    assert "chance: the largest group's share" in out and "true-positive rate" in out
    report = json.loads((model / "report.json").read_text())
    assert set(report["test"]["groups"]) == {"f", "m", "x"}
    for g in report["test"]["groups"].values():
        assert {"selection_rate", "true_positive_rate", "false_positive_rate", "count"} <= set(g)
    assert [p["weight"] for p in report["curve"]] == [0.0, 3.0]
    assert (model / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"


def test_a_representation_of_a_built_in_patient_table(tmp_path):
    out = invoke("fair", "fit", "whas500", "--method", "representation", "-o", tmp_path / "rep", "--steps", 30,
                 "--set", "curve=''", "--run", tmp_path / "run", "--no-progress")
    assert "fitted representation (parity) on 280 rows" in out
    record = json.loads((tmp_path / "rep" / "model.json").read_text())
    assert record["sensitive"] == "gender" and record["config"]["hidden"] == 32 and record["source"] == {
        "table": "whas500"}


@pytest.mark.parametrize("args, message", [
    (["--sensitive", "sex"], "sensitive column 'sex' is not in the table; columns: age, lab, proxy, group, outcome"),
    (["--sensitive", "outcome"], "the sensitive column 'outcome' is the target itself"),
    (["--sensitive", "group", "--set", "min_group_rows=150"], "group(s) too small to estimate their rates: 'f':"),
    (["--sensitive", "group", "--set", "alpha=2"], "unknown key 'alpha'"),
    (["--sensitive", "group", "--criterion", "fairness"], "criterion: expected one of ['parity', 'odds']"),
    ([], "name the sensitive column with --sensitive COLUMN"),
])
def test_bad_inputs_end_in_one_line_and_leave_no_model(tmp_path, monkeypatch, capsys, args, message):
    write_csv(tmp_path / "p.csv")
    monkeypatch.setattr(sys, "argv", ["gankit", "fair", "fit", str(tmp_path / "p.csv"), "--target", "outcome",
                                      "-o", str(tmp_path / "m"), "--run", str(tmp_path / "run"), "--no-progress",
                                      *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "run").exists()


def test_a_model_folder_in_use_is_refused_and_a_stopped_fit_exits_3(tmp_path, monkeypatch):
    write_csv(tmp_path / "p.csv")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "old.txt").write_text("")
    result = runner.invoke(app, ["fair", "fit", str(tmp_path / "p.csv"), "--target", "outcome", "--sensitive",
                                 "group", "-o", str(tmp_path / "m")])
    assert result.exit_code != 0 and "the folder is not empty" in " ".join(str(result.exception).split())

    import gankit.fair
    def stopped_fit(*args, **kwargs):
        raise gankit.fair.FitInterrupted("stopped at step 3 of 60")
    monkeypatch.setattr(gankit.fair, "fit", stopped_fit)
    result = runner.invoke(app, ["fair", "fit", str(tmp_path / "p.csv"), "--target", "outcome", "--sensitive",
                                 "group", "-o", str(tmp_path / "new"), "--run", str(tmp_path / "run")])
    assert result.exit_code == 3 and "--resume" in " ".join(result.output.split())
