"""`gankit synth fit|sample|report` end to end: the built-in breast-cancer table, and a user CSV."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from gankit.cli import app, main
from gankit.errors import DataError
from gankit.privacy import load_schema

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_thread", "in_tmp_folder")


@pytest.fixture
def in_tmp_folder(tmp_path, monkeypatch):
    """`synth fit` keeps its run folder under ./runs by default: never the repository's."""
    monkeypatch.chdir(tmp_path)


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_breast_cancer_fit_sample_report(tmp_path):
    model = tmp_path / "model"
    out = invoke("synth", "fit", "breast-cancer", "--epsilon", 1, "--delta", 1e-5, "--steps", 25,
                 "-o", model, "--no-progress")
    assert "epsilon spent 0.9" in out and "398 rows (171 held out)" in out
    invoke("synth", "sample", model, "-n", 300, "-o", tmp_path / "synthetic.csv")
    lines = (tmp_path / "synthetic.csv").read_text().splitlines()
    assert len(lines) == 301 and lines[0].startswith("mean radius,") and lines[0].endswith(",diagnosis")
    invoke("synth", "report", model, "-n", 200)
    report = json.loads((model / "report.json").read_text())
    assert 0.9 <= report["privacy"]["epsilon_spent"] <= 1.0 and report["schema_declared"] is True
    assert set(report["utility"]) == {"logistic regression", "random forest", "gradient boosting"}
    for u in report["utility"].values():
        assert 0.9 < u["trtr"]["auroc"] <= 1.0
    assert 0 <= report["audit"]["mia_auroc"] <= 1 and 0.5 <= report["fidelity"]["detection_auroc"] <= 1
    assert set(report["fidelity"]["columns"]) >= {"mean radius", "diagnosis"}
    page = (model / "report.html").read_text()
    assert "membership-inference AUROC" in page and "TSTR AUROC" in page and "declared" in page


def test_csv_without_schema_warns_and_writes_an_editable_schema(tmp_path):
    rows = ["age,sex,bmi,outcome"] + [f"{20 + i % 50},{'fm'[i % 2]},{18 + (i * 7) % 20}.5,{'yn'[(i // 3) % 2]}"
                                      for i in range(200)]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["synth", "fit", str(tmp_path / "p.csv"), "--target", "outcome", "--epsilon", "inf",
                                 "--steps", "5", "--batch-size", "16", "-o", str(tmp_path / "m"), "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "not covered by the privacy guarantee" in " ".join((result.output + result.stderr).split())
    schema = load_schema(tmp_path / "m" / "schema.yaml")
    assert not schema.declared and schema.column("sex").categories == ["f", "m"]
    assert schema.column("age").type == "ordinal" and schema.column("bmi").type == "continuous"


def test_bad_csv_is_a_user_error_naming_column_and_line(tmp_path):
    """GankitError reaches gankit.cli.main, which prints it as one red line and exits 2."""
    (tmp_path / "p.csv").write_text("age,outcome\n30,y\n31,n\n32,\n" + "".join(f"{40 + i},n\n" for i in range(20)))
    result = runner.invoke(app, ["synth", "fit", str(tmp_path / "p.csv"), "--target", "outcome", "-o",
                                 str(tmp_path / "m")])
    assert isinstance(result.exception, DataError)
    assert "column 'outcome' (the target): missing value on line 4" in str(result.exception)


def gankit(monkeypatch, capsys, *args) -> tuple[int, str]:
    """The command as a shell runs it (gankit.cli.main): exit status and stderr, its lines joined."""
    monkeypatch.setattr(sys, "argv", ["gankit", *map(str, args)])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, " ".join(capsys.readouterr().err.split())


def assert_one_error(status: int, err: str, expected: str) -> None:
    assert status == 2 and err.startswith("error:") and err.count("error:") == 1, err
    assert "Traceback" not in err and expected in err, err


@pytest.mark.parametrize("flags, expected", [
    (["--max-grad-norm", "-1"], "error: invalid synth configuration: max_grad_norm: must be > 0, got -1.0"),
    (["--max-grad-norm", "0"], "error: invalid synth configuration: max_grad_norm: must be > 0, got 0.0"),
    (["--epsilon", "1e-6"], "epsilon=1e-06 is out of reach: with delta=1e-05, prior_share=0.1 and 3 DP-SGD steps at "
                            "sample rate 0.161 the smallest epsilon the rdp accountant can reach is 0.0"),
])
def test_fit_settings_out_of_range_are_one_error_line(tmp_path, monkeypatch, capsys, flags, expected):
    status, err = gankit(monkeypatch, capsys, "synth", "fit", "breast-cancer", "--steps", 3, "-o", tmp_path / "m",
                         "--no-progress", *flags)
    assert_one_error(status, err, expected)
    assert not (tmp_path / "m").exists()


def test_fit_refuses_a_tiny_table_and_a_range_that_overflows(tmp_path, monkeypatch, capsys):
    (tmp_path / "two.csv").write_text("a,y\n1,n\n2,y\n")
    status, err = gankit(monkeypatch, capsys, "synth", "fit", tmp_path / "two.csv", "--target", "y", "--batch-size", 1,
                         "--delta", 0.1, "-o", tmp_path / "m", "--no-progress")
    assert_one_error(status, err, "two.csv: 2 rows give 2 training rows (after holding out 0); a fit needs at least 20")
    rows = [f"{('1e308' if i == 0 else '-1e308') if i < 2 else i},{'ab'[i % 2]}" for i in range(100)]
    (tmp_path / "big.csv").write_text("x,y\n" + "\n".join(rows) + "\n")
    status, err = gankit(monkeypatch, capsys, "synth", "fit", tmp_path / "big.csv", "--target", "y",
                         "-o", tmp_path / "m", "--no-progress")
    assert_one_error(status, err, "big.csv: column 'x': its range [-1e+308, 1e+308] is too wide for float arithmetic")


def test_outputs_that_are_the_wrong_kind_of_path_and_n_below_one_are_refused(tmp_path, monkeypatch, capsys):
    """Checked before the model is read: no model is needed to see these errors."""
    (tmp_path / "m").mkdir()
    (tmp_path / "file").write_text("x")
    status, err = gankit(monkeypatch, capsys, "synth", "sample", tmp_path / "m", "-o", tmp_path / "m")
    assert_one_error(status, err, "m: is a folder; give a file name for the CSV, e.g. -o ")
    status, err = gankit(monkeypatch, capsys, "synth", "fit", "breast-cancer", "-o", tmp_path / "file")
    assert_one_error(status, err, "file: is a file; give a folder name for the model")
    for n in (0, -3):
        status, err = gankit(monkeypatch, capsys, "synth", "report", tmp_path / "m", "-n", n)
        assert_one_error(status, err, f"error: -n must be >= 1 synthetic rows, got {n}")
