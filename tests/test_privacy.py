"""gankit.privacy: accounting, DP guards, schemas and CSVs, the audit. Tiny tables, CPU, seconds."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from torch import nn

from gankit.errors import ConfigError, DataError, GankitError
from gankit.privacy import Column, IdentifierWarning, Schema, SchemaLeakWarning, SynthConfig, Synthesizer, Table, fit, \
    infer_schema, load_schema, read_csv, save_schema
from gankit.privacy.baseline import HistogramSynthesizer
from gankit.privacy.dp import ALPHAS, calibrate_noise
from gankit.privacy.report import detection_auroc, privacy_audit, synth_report
from gankit.privacy.synth import noise_levels
from gankit.privacy.transform import TableEncoder

SCHEMA = Schema([Column("age", "ordinal", 18, 90), Column("bmi", "continuous", 15.0, 50.0),
                 Column("sex", "categorical", categories=["1", "2"]),
                 Column("smoker", "categorical", categories=["never", "former", "current"]),
                 Column("outcome", "categorical", categories=["no", "yes"])], target="outcome")


def small_table(n: int = 120, seed: int = 0, dims: int = 0) -> Table:
    """SCHEMA's columns (or ``dims`` standard-normal columns plus a label) with a label that depends on them."""
    rng = np.random.default_rng(seed)
    if dims:
        schema = Schema([Column(f"x{i}", "continuous", -4, 4) for i in range(dims)]
                        + [Column("y", "categorical", categories=["a", "b"])], "y")
        x = np.clip(rng.normal(size=(n, dims)), -4, 4)
        y = np.where(x[:, 0] + rng.normal(size=n) > 0, "b", "a").astype(object)
        return Table(schema, {**{f"x{i}": x[:, i] for i in range(dims)}, "y": y})
    age = rng.integers(18, 91, n).astype(float)
    bmi = np.clip(rng.normal(27, 5, n), 15, 50)
    risk = (age - 50) / 20 + (bmi - 27) / 5 + rng.normal(0, 1, n)
    return Table(SCHEMA, {"age": age, "bmi": bmi, "sex": rng.choice(["1", "2"], n).astype(object),
                          "smoker": rng.choice(["never", "former", "current"], n).astype(object),
                          "outcome": np.where(risk > 0, "yes", "no").astype(object)})


pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(steps=12, batch_size=16, hidden=16, z_dim=8, delta=1e-4)


# --- privacy accounting --------------------------------------------------------------------

def test_spent_epsilon_equals_opacus_accountant_for_the_same_releases():
    model = fit(small_table(), SynthConfig(epsilon=1.0, **TINY))
    p = model.privacy
    assert p["steps"] == TINY["steps"] and p["sample_rate"] == pytest.approx(16 / 120)
    reference = RDPAccountant()
    reference.step(noise_multiplier=p["prior_noise_multiplier"], sample_rate=1.0)  # the noisy class counts
    for _ in range(p["steps"]):
        reference.step(noise_multiplier=p["noise_multiplier"], sample_rate=p["sample_rate"])
    assert p["epsilon_spent"] == reference.get_epsilon(delta=TINY["delta"], alphas=ALPHAS)
    assert 1.0 - 0.02 <= p["epsilon_spent"] <= 1.0  # calibrated to the target, never above it


def test_calibration_without_earlier_releases_is_opacus_get_noise_multiplier():
    ours = calibrate_noise(epsilon=2.0, delta=1e-5, sample_rate=0.05, steps=300)
    theirs = get_noise_multiplier(target_epsilon=2.0, target_delta=1e-5, sample_rate=0.05, steps=300,
                                  alphas=ALPHAS)
    assert ours == pytest.approx(theirs)


@pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")
def test_an_epsilon_out_of_reach_names_the_smallest_reachable_one():
    """Opacus' "privacy budget is too low" becomes one line with the floor of these settings, and the
    floor it names is reachable while a little below it is not."""
    config = SynthConfig(epsilon=1e-6, steps=100, batch_size=16, delta=1e-5)
    with pytest.raises(ConfigError, match=r"epsilon=1e-06 is out of reach: with delta=1e-05, prior_share=0.1 and 100 "
                                          r"DP-SGD steps at sample rate 0.1 the smallest epsilon") as refused:
        noise_levels(config, 0.1)
    assert "\n" not in str(refused.value)
    floor = float(re.search(r"can reach is ([0-9.e+-]+);", str(refused.value)).group(1))
    assert 0.01 < floor < 0.1
    noise_levels(replace(config, epsilon=floor), 0.1)
    with pytest.raises(ConfigError, match="out of reach"):
        noise_levels(replace(config, epsilon=0.97 * floor), 0.1)


def test_finite_epsilon_refuses_a_discriminator_with_batchnorm():
    class BatchNormD(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(width, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))

        def forward(self, x):
            out = self.net(x)
            return out[:, 0], out[:, 1:]

    table = small_table()
    width = TableEncoder(table.schema, SynthConfig().modes).width
    with pytest.raises(GankitError, match="BatchNorm"):
        fit(table, SynthConfig(epsilon=1.0, **TINY), discriminator=BatchNormD(width))
    fit(table, SynthConfig(epsilon=math.inf, **{**TINY, "steps": 2}), discriminator=BatchNormD(width))  # no DP: ok


def test_histogram_baseline_spends_its_epsilon_and_keeps_columns():
    table = small_table()
    for conditional in (False, True):
        base = HistogramSynthesizer(SCHEMA, epsilon=1.0, delta=1e-5, conditional=conditional).fit(table)
        assert base.privacy["epsilon_spent"] == pytest.approx(1.0, abs=0.02)
        synthetic = base.sample(50, seed=1)
        assert len(synthetic) == 50 and set(synthetic.data["smoker"]) <= {"never", "former", "current"}
        assert synthetic.data["age"].min() >= 18 and np.all(synthetic.data["age"] == np.round(synthetic.data["age"]))


# --- schema, CSV, model files ----------------------------------------------------------------

def test_csv_round_trip_keeps_names_types_and_categories(tmp_path):
    model = fit(small_table(), SynthConfig(epsilon=math.inf, **TINY))
    path = tmp_path / "synthetic.csv"
    model.sample(80, seed=3).to_csv(path)
    with pytest.warns(SchemaLeakWarning):
        inferred = infer_schema(path, target="outcome")
    assert inferred.names == SCHEMA.names and not inferred.declared
    assert [c.type for c in inferred.columns] == [c.type for c in SCHEMA.columns]
    for mine, theirs in zip(SCHEMA.columns, inferred.columns):
        if mine.type == "categorical":  # every category shows up in 80 rows here; order may differ
            assert sorted(theirs.categories) == sorted(mine.categories)
    back = read_csv(path, SCHEMA)
    assert back.data["sex"].dtype == object and set(back.data["outcome"]) <= {"no", "yes"}
    save_schema(SCHEMA, tmp_path / "schema.yaml")
    assert load_schema(tmp_path / "schema.yaml").to_dict() == SCHEMA.to_dict()


def test_saved_model_samples_the_same_rows(tmp_path):
    model = fit(small_table(), SynthConfig(epsilon=2.0, **TINY))
    model.save(tmp_path / "m")
    again = Synthesizer.load(tmp_path / "m")
    assert again.privacy == model.privacy
    a, b = model.sample(30, seed=5), again.sample(30, seed=5)
    for name in SCHEMA.names:
        assert list(a.data[name]) == list(b.data[name])
    assert not list(tmp_path.glob("m/*.pt")) and not list(tmp_path.glob("m/*.pkl"))


GOOD = "age,bmi,sex,smoker,outcome\n40,25.5,1,never,no\n61,31.0,2,current,yes\n"


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace("31.0", ""), r"line 3, column 'bmi': missing value"),
    (GOOD.replace("31.0", "NA"), r"line 3, column 'bmi': missing value"),
    (GOOD.replace("25.5", "25,5"), r"line 2: 6 fields, the header has 5"),
    (GOOD.replace("25.5", "abc"), r"line 2, column 'bmi': 'abc' is not a number"),
    (GOOD.replace("current", "sometimes"), r"line 3, column 'smoker': unknown category 'sometimes'"),
    (GOOD.replace("yes", "no"), r"target column 'outcome' has only one class \('no'\)"),
    (GOOD.replace("outcome\n", "outcome,notes\n").replace("no\n", "no,x\n").replace("yes\n", "yes,y\n"),
     r"column\(s\) 'notes' are not in the schema"),
])
def test_bad_csv_errors_name_the_column_and_line(tmp_path, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=expected):
        read_csv(path, SCHEMA)


def test_inference_reports_junk_in_a_numeric_column(tmp_path):
    rows = [f"{20 + i},{20 + i * 0.5},a" for i in range(30)]
    rows[17] = "37,oops,b"
    (tmp_path / "t.csv").write_text("age,bmi,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"line 19, column 'bmi': 'oops' is not a number"):
        infer_schema(tmp_path / "t.csv", target="y")


def test_text_placeholders_in_a_numeric_column_are_listed(tmp_path):
    """A lab column with 'n.d.' in a fifth of its cells is numeric with placeholders, not free text."""
    rows = [f"{20 + i % 7},{'n.d.' if i % 5 == 0 else ('<5' if i == 7 else 5.5 + i / 10)},{'ab'[i % 2]}"
            for i in range(60)]
    (tmp_path / "t.csv").write_text("age,lab,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"line 2, column 'lab': 'n.d.' is not a number, and the column is otherwise "
                                        r"numeric \(not numbers: 'n.d.' \(12 cells\), '<5' \(1 cell\)\); write missing "
                                        r"values as empty cells or NA"):
        infer_schema(tmp_path / "t.csv", target="y")


def test_numeric_identifiers_are_flagged_like_text_ones(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{i},{100_000 + 37 * i + rng.integers(30)},{rng.integers(18, 91)},P{i:03d},{'ab'[i % 2]}"
            for i in range(40)]
    (tmp_path / "t.csv").write_text("row,patient,age,code,y\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning) as caught:
        infer_schema(tmp_path / "t.csv", target="y")
    flagged = {str(w.message).split("'")[1]: str(w.message) for w in caught if w.category is IdentifierWarning}
    assert set(flagged) == {"row", "patient", "code"}
    assert "running from 0 to 39 without a gap: a row number?" in flagged["row"]
    assert "distinct integers: a record identifier (patient number)?" in flagged["patient"]


@pytest.mark.parametrize("huge", ["1e308", "1.7e308"])
def test_a_range_that_overflows_float_math_is_refused(tmp_path, huge):
    rows = [f"{huge if i == 0 else ('-' + huge if i == 1 else i % 20)},{'ab'[i % 2]}" for i in range(30)]
    (tmp_path / "t.csv").write_text("x,y\n" + "\n".join(rows) + "\n")
    refused = r"column 'x': its range \[-1\.?\d*e\+308, 1\.?\d*e\+308\] is too wide for float arithmetic"
    with pytest.warns(SchemaLeakWarning), pytest.raises(DataError, match=refused):
        infer_schema(tmp_path / "t.csv", target="y")
    (tmp_path / "s.yaml").write_text(f"columns:\n  - {{name: x, type: continuous, min: -{huge}, max: {huge}}}\n")
    with pytest.raises(DataError, match="too wide for float arithmetic"):
        load_schema(tmp_path / "s.yaml")
    (tmp_path / "ok.yaml").write_text("target: y\ncolumns:\n  - {name: x, type: continuous, min: 0, max: 100}\n"
                                      "  - {name: y, type: categorical, categories: [a, b]}\n")
    with pytest.warns(UserWarning, match="2 value\\(s\\) outside the schema bounds"):  # declared bounds: clipped
        assert read_csv(tmp_path / "t.csv", load_schema(tmp_path / "ok.yaml")).data["x"][:2].tolist() == [100, 0]


def test_out_of_bounds_values_are_clipped_with_a_warning(tmp_path):
    (tmp_path / "t.csv").write_text(GOOD.replace("25.5", "75.0"))
    with pytest.warns(UserWarning, match="outside the schema bounds"):
        table = read_csv(tmp_path / "t.csv", SCHEMA)
    assert table.data["bmi"][0] == 50.0


def test_schema_yaml_errors_name_the_column(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("columns:\n  - {name: age, type: number, min: 0, max: 1}\n")
    with pytest.raises(DataError, match="column 'age': unknown type 'number'"):
        load_schema(path)
    path.write_text("target: age\ncolumns:\n  - {name: age, type: continuous, min: 0, max: 1}\n")
    with pytest.raises(DataError, match="target column 'age' must be categorical"):
        load_schema(path)


def test_encoder_round_trip_is_exact_to_the_grid():
    table = small_table(50)
    enc = TableEncoder(SCHEMA, modes=5)
    back = enc.decode(enc.encode(table))
    np.testing.assert_allclose(back["bmi"], table.data["bmi"], rtol=1e-5)
    assert list(back["smoker"]) == list(table.data["smoker"]) and np.array_equal(back["age"], table.data["age"])


# --- the audit can see a leak ------------------------------------------------------------------

def test_report_needs_held_out_rows_and_copes_with_few_rows():
    model = fit(small_table(), SynthConfig(epsilon=math.inf, **{**TINY, "steps": 2}))
    table = small_table(6)
    with pytest.raises(GankitError, match="the report needs at least 2 training rows and 1 held-out row, got 6 and 0"):
        synth_report(model, table, table.subset(np.arange(0)))
    with pytest.raises(GankitError, match="-n must be >= 1 synthetic rows, got 0"):
        synth_report(model, table, table, n=0)
    assert 0 <= detection_auroc(table.subset(np.arange(3)), model.sample(3)) <= 1  # 3 folds, not 5
    one_class = table.subset(np.flatnonzero(table.data["outcome"] == table.data["outcome"][0])[:1])
    report = synth_report(model, table, one_class, n=20)
    assert report["utility"]["logistic regression"]["tstr"]["note"] == "the held-out rows lack a class"


def test_membership_attack_flags_a_deliberately_overfit_model():
    """A non-private AC-GAN whose target is the record id: class i has exactly one real row, so
    G(z, i) learns to reproduce row i. The distance attack must see it (AUROC well above 0.5)."""
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(16)]
    schema = Schema([Column(f"x{i}", "continuous", -4, 4) for i in range(8)]
                    + [Column("id", "categorical", categories=ids)], "id")

    def draw() -> Table:
        x = np.clip(rng.normal(size=(16, 8)), -4, 4)
        return Table(schema, {**{f"x{i}": x[:, i] for i in range(8)}, "id": np.array(ids, dtype=object)})

    train, holdout = draw(), draw()
    torch.manual_seed(0)
    model = fit(train, SynthConfig(epsilon=math.inf, steps=200, batch_size=8, hidden=64, modes=1,
                                   lr_d=2e-3, lr_g=2e-3))
    audit = privacy_audit(model.sample(400), train, holdout)
    assert audit["mia_auroc"] > 0.75
    assert audit["share_closer_to_train"] > 0.75


# --- the DP game on the shared loop ----------------------------------------------------------

def test_a_stopped_private_fit_resumes_to_the_same_generator_and_ledger(stop_and_resume):
    from gankit.loop import LoopSettings
    from gankit.privacy.synth import DPTableGame
    cfg, table = SynthConfig(epsilon=1.0, **TINY), small_table()
    whole, resumed, start = stop_and_resume(lambda: DPTableGame(table, cfg),
                                            LoopSettings(steps=cfg.steps, ckpt_every=5), stop_at=7)
    assert start == 5
    for a, b in zip(whole.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.ledger.history == whole.ledger.history  # counts releases once: the prior, then 12 steps
    assert resumed.ledger.history[-1][2] == cfg.steps
    assert resumed.synthesizer().privacy["epsilon_spent"] == whole.synthesizer().privacy["epsilon_spent"]


def test_fit_with_a_run_folder_logs_no_loss_on_real_rows_when_private(tmp_path):
    import json
    fit(small_table(), SynthConfig(epsilon=1.0, **TINY), run_dir=tmp_path / "private")
    fit(small_table(), SynthConfig(epsilon=math.inf, **TINY), run_dir=tmp_path / "open")
    private = json.loads((tmp_path / "private" / "metrics.jsonl").read_text().splitlines()[-1])
    open_ = json.loads((tmp_path / "open" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "g_loss" in private and "d_loss" not in private and "d_grad_norm" not in private
    assert "d_loss" in open_
