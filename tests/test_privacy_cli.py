"""`gankit synth fit|sample|report` end to end: the built-in breast-cancer table, and a user CSV."""

from __future__ import annotations

import json
import pytest
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import DataError
from gankit.privacy import load_schema

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_thread")


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
    (tmp_path / "p.csv").write_text("age,outcome\n30,y\n31,n\n,y\n" + "".join(f"{40 + i},n\n" for i in range(20)))
    result = runner.invoke(app, ["synth", "fit", str(tmp_path / "p.csv"), "--target", "outcome", "-o",
                                 str(tmp_path / "m")])
    assert isinstance(result.exception, DataError)
    assert "line 4, column 'age': missing value" in str(result.exception)
