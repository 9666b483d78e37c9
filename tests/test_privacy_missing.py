"""Missing values in patient tables: read, declared, encoded, learnt under DP, written back, reported."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import DataError
from gankit.privacy import Column, Schema, SchemaLeakWarning, SynthConfig, Synthesizer, Table, fit, infer_schema, \
    load_schema, read_csv, save_schema
from gankit.privacy.baseline import HistogramSynthesizer
from gankit.privacy.dp import counts_noise
from gankit.privacy.report import render_html, synth_report
from gankit.privacy.synth import DPTableGame, noisy_counts
from gankit.privacy.tablegan import TableGenerator
from gankit.privacy.transform import TableEncoder

pytestmark = pytest.mark.usefixtures("one_thread")

SCHEMA = Schema([Column("age", "ordinal", 18, 90, missing=True), Column("bmi", "continuous", 15.0, 50.0, missing=True),
                 Column("chol", "continuous", 100.0, 300.0, missing=True),
                 Column("smoker", "categorical", categories=["never", "former", "current"], missing=True),
                 Column("sex", "categorical", categories=["1", "2"]),
                 Column("outcome", "categorical", categories=["no", "yes"])], target="outcome")
# missing shares by column; cholesterol is measured for every "yes" patient and for few "no" ones
RATES = {"age": 0.1, "bmi": 0.4, "smoker": 0.25}
CHOL_MISSING = {"no": 0.6, "yes": 0.0}


def table_with_gaps(n: int = 3000, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n).astype(float)
    bmi = np.clip(rng.normal(27, 5, n), 15, 50)
    chol = np.clip(rng.normal(200, 30, n), 100, 300)
    outcome = np.where((age - 50) / 20 + (bmi - 27) / 5 + rng.normal(0, 1, n) > 0, "yes", "no").astype(object)
    smoker = rng.choice(["never", "former", "current"], n).astype(object)
    age[rng.random(n) < RATES["age"]] = np.nan
    bmi[rng.random(n) < RATES["bmi"]] = np.nan
    smoker[rng.random(n) < RATES["smoker"]] = ""
    chol[rng.random(n) < np.where(outcome == "no", CHOL_MISSING["no"], CHOL_MISSING["yes"])] = np.nan
    return Table(SCHEMA, {"age": age, "bmi": bmi, "chol": chol, "smoker": smoker,
                          "sex": rng.choice(["1", "2"], n).astype(object), "outcome": outcome})


def missing_share(table: Table, name: str, rows: np.ndarray | None = None) -> float:
    missing = table.schema.column(name).is_missing(table.data[name])
    return float(missing[rows].mean() if rows is not None else missing.mean())


# --- encoding ------------------------------------------------------------------------------------

def test_encoder_adds_a_missing_indicator_to_numbers_and_a_category_to_categories():
    table = table_with_gaps(200)
    enc = TableEncoder(SCHEMA, modes=5)
    roles = [(s.column, s.role, s.width) for s in enc.spans]
    assert ("bmi", "missing", 2) in roles and ("smoker", "value", 4) in roles  # 3 categories + missing
    assert ("sex", "value", 2) in roles and not any(c == "sex" and r == "missing" for c, r, _ in roles)
    x = enc.encode(table)
    bmi = [s for s in enc.spans if s.column == "bmi"]
    gone = np.isnan(table.data["bmi"])
    value = x[:, bmi[0].start:bmi[-1].start]          # offset and bins
    assert np.all(value[gone] == 0) and np.all(x[gone, bmi[-1].start + 1] == 1)  # neutral value, flag "missing"
    back = enc.decode(x)
    for name in ("age", "bmi", "chol"):
        assert np.array_equal(np.isnan(back[name]), np.isnan(table.data[name]))
    np.testing.assert_allclose(back["bmi"][~gone], table.data["bmi"][~gone], rtol=1e-5)
    assert list(back["smoker"]) == list(table.data["smoker"])


def test_generator_gives_a_missing_number_no_value():
    enc = TableEncoder(SCHEMA, modes=5)
    gen = TableGenerator(enc.spans, 2, z_dim=8, hidden=16)
    g = torch.Generator().manual_seed(0)
    x = gen(gen.noise(500, g), torch.randint(0, 2, (500,), generator=g), hard=True, generator=g).detach().numpy()
    for col, (start, width, index) in enc.missing_slots().items():
        if SCHEMA.column(col).numeric:
            value = [s for s in enc.spans if s.column == col and s.role == "value"]
            gone = x[:, start + index] == 1
            assert gone.any() and np.all(x[gone, value[0].start:start] == 0)


# --- privacy: the released counts ------------------------------------------------------------------

def test_missing_counts_ride_on_the_class_count_release_at_the_same_privacy_cost():
    """A record moves one class count and up to one missing count per column. Noise std sigma sqrt(2) on
    class counts and sigma sqrt(2d) on the d missing counts keep the release's Mahalanobis sensitivity at
    1/sigma: the ledger holds one release at noise multiplier sigma, as for the class counts alone."""
    codes, missing = np.arange(1000) % 2, np.zeros((1000, 3), dtype=bool)
    missing[:500] = True
    rng = np.random.default_rng(0)
    released = np.array([noisy_counts(codes, 2, missing, 1.0, rng)[1][0] for _ in range(3000)]) * 1000
    # 1000 x share = 1000 (500 + e) / (1000 + e1 + e2), e ~ N(0, 6), e1, e2 ~ N(0, 2): variance 6 + 4 / 4
    assert released.mean() == pytest.approx(500, abs=0.5) and released.std() == pytest.approx(math.sqrt(7), rel=0.1)
    plain = np.array([noisy_counts(codes, 2, missing[:, :0], 1.0, rng)[0][0] for _ in range(3000)]) * 1000
    # no gaps: class counts at noise sigma; 1000 x share = 500 + (e1 - e2) / 2, variance 1 / 2
    assert plain.std() == pytest.approx(math.sqrt(0.5), rel=0.1)
    game = DPTableGame(table_with_gaps(300), SynthConfig(epsilon=1.0, steps=12, batch_size=16, delta=1e-4))
    assert game.ledger.history == [(counts_noise(0.1, 1e-4), 1.0, 1)]


def test_dp_fit_reproduces_missing_shares_and_their_dependence_on_the_outcome():
    """epsilon 3, 300 steps, small nets, 3000 rows. Shares within 0.05 of the real ones (the released
    counts' noise is ~0.01 here; 12 seeds stayed within 0.025); a generator that ignored missingness (0)
    or drew it at random (0.5) fails, and so does this GAN without the calibration (off by 0.2 to 0.46)."""
    train = table_with_gaps()
    model = fit(train, SynthConfig(epsilon=3.0, delta=1e-4, steps=300, batch_size=64, hidden=32, z_dim=8))
    assert model.privacy["epsilon_spent"] <= 3.0
    synthetic = model.sample(3000, seed=1)
    for name in ("age", "bmi", "chol", "smoker"):
        assert abs(missing_share(synthetic, name) - missing_share(train, name)) < 0.05, name
    yes = synthetic.data["outcome"] == "yes"
    assert missing_share(synthetic, "chol", yes) < 0.15 < 0.4 < missing_share(synthetic, "chol", ~yes)
    present = ~np.isnan(synthetic.data["bmi"])
    assert np.all((synthetic.data["bmi"][present] >= 15) & (synthetic.data["bmi"][present] <= 50))


def test_saved_model_keeps_its_missing_calibration(tmp_path):
    model = fit(table_with_gaps(300), SynthConfig(epsilon=2.0, steps=12, batch_size=16, hidden=16, z_dim=8,
                                                  delta=1e-4))
    assert set(model.missing) == {"age", "bmi", "chol", "smoker"}
    model.save(tmp_path / "m")
    again = Synthesizer.load(tmp_path / "m")
    assert again.sample(200, seed=4).to_csv() == model.sample(200, seed=4).to_csv()
    assert again.missing == model.missing


def test_histogram_baseline_keeps_missing_shares():
    train = table_with_gaps()
    base = HistogramSynthesizer(SCHEMA, epsilon=math.inf, delta=1e-5).fit(train)
    synthetic = base.sample(4000, seed=0)
    for name in ("age", "bmi", "smoker"):
        assert abs(missing_share(synthetic, name) - missing_share(train, name)) < 0.03


# --- CSV and schema ------------------------------------------------------------------------------

def test_missing_cells_read_as_nan_or_empty_and_are_written_back_empty(tmp_path):
    lines = [f"{30 + i},{20 + i / 2},{'never' if i % 2 else 'current'},{'no' if i % 3 else 'yes'}" for i in range(14)]
    lines[1], lines[2] = "31,20.5,NA,no", "32,n/a,current,yes"
    lines[3] = ",21.5,,yes"
    (tmp_path / "t.csv").write_text("age,bmi,smoker,outcome\n" + "\n".join(lines) + "\n")
    with pytest.warns(SchemaLeakWarning, match=r"nor is which columns have missing values \('age', 'bmi', 'smoker'"):
        schema = infer_schema(tmp_path / "t.csv", target="outcome")
    assert [c.type for c in schema.columns] == ["ordinal", "continuous", "categorical", "categorical"]
    assert [c.missing for c in schema.columns] == [True, True, True, False]
    table = read_csv(tmp_path / "t.csv", schema)
    assert np.isnan(table.data["age"][3]) and np.isnan(table.data["bmi"][2]) and table.data["smoker"][1] == ""
    assert table.to_csv().splitlines()[2:5] == ["31,20.5,,no", "32,,current,yes", ",21.5,,yes"]


def test_schema_yaml_records_missing_and_declared_schemas_without_it_keep_working(tmp_path):
    save_schema(SCHEMA, tmp_path / "s.yaml")
    text = (tmp_path / "s.yaml").read_text()
    assert text.count("\n  missing: true") == 4 and load_schema(tmp_path / "s.yaml").to_dict() == SCHEMA.to_dict()
    (tmp_path / "old.yaml").write_text("target: outcome\ncolumns:\n  - {name: age, type: ordinal, min: 18, max: 90}\n"
                                       "  - {name: outcome, type: categorical, categories: [no, yes]}\n")
    old = load_schema(tmp_path / "old.yaml")
    assert not old.column("age").missing and "missing" not in old.to_dict()["columns"][0]
    (tmp_path / "t.csv").write_text("age,outcome\n40,no\n,yes\n")
    with pytest.raises(DataError, match=r"line 3, column 'age': missing value \(''\) and the schema does not allow "
                                        r"one; add 'missing: true'"):
        read_csv(tmp_path / "t.csv", old)


def test_a_declared_category_that_reads_like_a_missing_value_is_a_value(tmp_path):
    (tmp_path / "s.yaml").write_text("target: y\ncolumns:\n"
                                     "  - {name: smoker, type: categorical, categories: [none, daily], missing: true}\n"
                                     "  - {name: y, type: categorical, categories: [a, b]}\n")
    (tmp_path / "t.csv").write_text("smoker,y\nnone,a\nNA,b\ndaily,a\n")
    table = read_csv(tmp_path / "t.csv", load_schema(tmp_path / "s.yaml"))
    assert list(table.data["smoker"]) == ["none", "", "daily"]


@pytest.mark.parametrize("schema_text, expected", [
    (None, r"column 'outcome' \(the target\): missing value on lines 3, 5; the model conditions on the outcome"),
    ("target: outcome\ncolumns:\n  - {name: age, type: ordinal, min: 18, max: 90}\n"
     "  - {name: outcome, type: categorical, categories: [no, yes]}\n",
     r"column 'outcome' \(the target\): missing value on lines 3, 5"),
    ("target: outcome\ncolumns:\n  - {name: age, type: ordinal, min: 18, max: 90}\n"
     "  - {name: outcome, type: categorical, categories: [no, yes], missing: true}\n",
     r"target column 'outcome' cannot be 'missing: true'"),
])
def test_a_target_with_missing_values_is_refused_naming_the_rows(tmp_path, schema_text, expected):
    (tmp_path / "t.csv").write_text("age,outcome\n40,no\n41,\n42,yes\n43,NA\n")
    with pytest.raises(DataError, match=expected):
        if schema_text is None:
            infer_schema(tmp_path / "t.csv", target="outcome")
        else:
            (tmp_path / "s.yaml").write_text(schema_text)
            read_csv(tmp_path / "t.csv", load_schema(tmp_path / "s.yaml"))


def test_a_column_with_no_value_at_all_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("age,lab,outcome\n40,NA,no\n41,,yes\n")
    with pytest.raises(DataError, match="column 'lab': every cell is missing; drop the column"):
        infer_schema(tmp_path / "t.csv", target="outcome")


# --- end to end -----------------------------------------------------------------------------------

def test_cli_fit_sample_report_with_missing_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # `synth fit` keeps its run folder under ./runs: never the repository's
    train = table_with_gaps(400)
    train.to_csv(tmp_path / "patients.csv")
    runner, model = CliRunner(), tmp_path / "model"
    for args in (["fit", tmp_path / "patients.csv", "--target", "outcome", "--epsilon", 3, "--delta", 1e-4,
                  "--steps", 30, "--batch-size", 32, "-o", model, "--no-progress"],
                 ["sample", model, "-n", 500, "-o", tmp_path / "synthetic.csv"], ["report", model]):
        result = runner.invoke(app, ["synth", *map(str, args)])
        assert result.exit_code == 0, (result.output, result.exception)
    assert "missing: true" in (model / "schema.yaml").read_text()
    rows = list(csv.DictReader(open(tmp_path / "synthetic.csv")))
    assert any(r["bmi"] == "" for r in rows) and any(r["smoker"] == "" for r in rows)
    assert not any(r["sex"] == "" or r["outcome"] == "" for r in rows)
    report = json.loads((model / "report.json").read_text())
    assert set(report["missing"]) == {"age", "bmi", "chol", "smoker"}
    assert "indicator" in report["missing"]["bmi"]["handling"] and "category" in report["missing"]["smoker"]["handling"]
    assert report["missing"]["bmi"]["real_rate"] == pytest.approx(missing_share(
        read_csv(tmp_path / "patients.csv", load_schema(model / "schema.yaml")), "bmi"), abs=0.1)
    assert report["privacy"]["missing_counts_released"] == ["age", "bmi", "chol", "smoker"]
    page = (model / "report.html").read_text()
    assert "<h2>Missing values</h2>" in page and "missing cells in age, bmi, chol, smoker" in page


def test_report_without_missing_columns_says_so():
    plain = Schema([Column(c.name, c.type, c.min, c.max, c.categories) for c in SCHEMA.columns], "outcome")
    rng = np.random.default_rng(0)
    rows = Table(plain, {"age": rng.integers(18, 91, 60).astype(float), "bmi": rng.uniform(15, 50, 60),
                         "chol": rng.uniform(100, 300, 60),
                         "smoker": rng.choice(["never", "former", "current"], 60).astype(object),
                         "sex": rng.choice(["1", "2"], 60).astype(object),
                         "outcome": np.array(["no", "yes"] * 30, dtype=object)})
    report = synth_report(_Copies(rows), rows.subset(np.arange(40)), rows.subset(np.arange(40, 60)))
    assert report["missing"] == {} and "No column may hold missing values" in render_html(report)


class _Copies:
    """A stand-in model that samples rows of a table (here one without missing values)."""

    def __init__(self, table: Table):
        self.table = table
        self.privacy = {"epsilon_target": "inf", "ledger": {"accountant": "rdp"}}

    def sample(self, n: int, seed: int = 0) -> Table:
        return self.table.subset(np.random.default_rng(seed).integers(0, len(self.table), n))
