"""gankit.fair: the projection, fairlearn's numbers, the adversary at chance, bad inputs, exact resume.

Tiny synthetic tables on CPU, seconds each."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference, \
    false_positive_rate, selection_rate, true_positive_rate

from gankit.errors import ConfigError, DataError
from gankit.fair import DebiasGame, FairConfig, FairEncoder, FairModel, RepresentationGame, choose_weight, \
    fairness_metrics, fit, keep_groups, load_fair_config, patient_table, prepare, table_from_frame
from gankit.fair.data import split_cells
from gankit.fair.objectives import projected_gradient
from gankit.fair.report import fair_report, probe_balanced_accuracy, write_report
from gankit.loop import LoopSettings
from gankit.privacy.schema import Column, Schema, Table

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(steps=40, batch_size=64, curve="")


def proxy_table(n: int = 600, seed: int = 0, groups=("f", "m"), share=None) -> Table:
    """A table whose group is linearly recoverable from x1 (x1 = group code + noise); y reads x1 and x2."""
    rng = np.random.default_rng(seed)
    code = rng.choice(len(groups), n, p=share)
    x1, x2 = code + 0.4 * rng.normal(size=n), rng.normal(size=n)
    y = np.where(x1 + x2 + 0.3 * rng.normal(size=n) > 0.5, "yes", "no").astype(object)
    schema = Schema([Column("x1", "continuous", -3, 5), Column("x2", "continuous", -6, 6),
                     Column("group", "categorical", categories=list(groups)),
                     Column("y", "categorical", categories=["no", "yes"])], "y")
    return Table(schema, {"x1": np.clip(x1, -3, 5), "x2": np.clip(x2, -6, 6),
                          "group": np.array(groups, dtype=object)[code], "y": y})


# --- the projection ----------------------------------------------------------------------------

def test_projection_removes_the_adversarys_direction_from_the_update():
    torch.manual_seed(0)
    task = [torch.randn(3, 4), torch.randn(4)]
    adv = [torch.randn(3, 4), torch.randn(4)]
    flat = lambda parts: torch.cat([p.reshape(-1) for p in parts])
    h = flat(adv)
    # alpha = 0: what is left of the task gradient is orthogonal to the adversary's gradient
    kept = flat(projected_gradient(task, adv, 0.0))
    assert abs(float(kept @ h)) < 1e-5
    torch.testing.assert_close(kept, flat(task) - (flat(task) @ h) / (h @ h) * h)
    # alpha > 0: the only component along h is the -alpha h term (the predictor moves against the adversary)
    moved = flat(projected_gradient(task, adv, 3.0))
    torch.testing.assert_close(moved @ h, -3.0 * (h @ h), rtol=1e-5, atol=1e-4)
    # without the projection: plain gradient reversal
    torch.testing.assert_close(flat(projected_gradient(task, adv, 3.0, projection=False)), flat(task) - 3.0 * h)


def test_the_debias_step_puts_the_projected_gradient_on_the_predictor():
    data = prepare(proxy_table(200), "group", FairConfig(**TINY))
    game = DebiasGame(data, FairConfig(**TINY, adversary_weight=2.0, weight_schedule="constant"))
    x, y, a, w = game.batch(game.sampler(0))
    params = list(game.net.parameters())
    logit = game.net(x)
    from gankit.fair.objectives import adversary_loss, task_loss
    g_task = torch.autograd.grad(task_loss(logit, y), params, retain_graph=True)
    g_adv = torch.autograd.grad(adversary_loss(game.adversary(logit.unsqueeze(-1), y), a, w), params)
    surrogate, stats = game.net_loss(x, y, a, w, 2.0)
    surrogate.backward()
    got = torch.cat([p.grad.reshape(-1) for p in params])
    h, t = torch.cat([g.reshape(-1) for g in g_adv]), torch.cat([g.reshape(-1) for g in g_task])
    torch.testing.assert_close(got, t - (t @ h) / (h @ h) * h - 2.0 * h)
    torch.testing.assert_close(got @ h, -2.0 * (h @ h), rtol=1e-4, atol=1e-5)
    assert set(stats) == {"task_loss", "task_acc"}


# --- fairlearn's numbers -----------------------------------------------------------------------

def test_fairness_numbers_equal_fairlearns_for_three_groups():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    groups = rng.choice(["a", "b", "c"], 300)
    ours = fairness_metrics(y_true, y_pred, groups, rng.random(300))
    assert ours["demographic_parity_difference"] == demographic_parity_difference(y_true, y_pred,
                                                                                 sensitive_features=groups)
    assert ours["equalized_odds_difference"] == equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
    frame = MetricFrame(metrics={"s": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
                        y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    for g in "abc":
        assert ours["groups"][g]["selection_rate"] == frame.by_group.loc[g, "s"]
        assert ours["groups"][g]["true_positive_rate"] == frame.by_group.loc[g, "tpr"]
        assert ours["groups"][g]["false_positive_rate"] == frame.by_group.loc[g, "fpr"]
        member = groups == g   # and they mean what they say
        assert ours["groups"][g]["selection_rate"] == pytest.approx(y_pred[member].mean())


def test_a_models_report_equals_fairlearn_on_its_own_predictions():
    table = proxy_table(300, groups=("f", "m", "x"))
    model = fit(table, "group", FairConfig(**TINY))
    data = prepare(table, "group", model.config)
    pred, groups = model.predict(data.test.table), data.test.group_names
    truth = model.outcomes(data.test.table)
    test = model.record["test"]
    assert set(test["groups"]) == {"f", "m", "x"}
    assert test["demographic_parity_difference"] == demographic_parity_difference(truth, pred,
                                                                                 sensitive_features=groups)
    assert test["equalized_odds_difference"] == equalized_odds_difference(truth, pred, sensitive_features=groups)
    assert test["accuracy"] == pytest.approx((pred == truth).mean())


# --- the adversary falls to chance ---------------------------------------------------------------

def test_a_large_adversary_weight_leaves_the_group_unrecoverable_from_the_prediction():
    table = proxy_table()
    config = FairConfig(steps=1000, curve="", adversary_weight=0.0)
    data = prepare(table, "group", config)
    plain = fit(table, "group", config)
    fair = fit(table, "group", replace(config, adversary_weight=100.0))
    chance = plain.record["test"]["adversary_chance"]
    plain_probe = probe_balanced_accuracy(plain, data.fit.table, data.test.table)
    fair_probe = probe_balanced_accuracy(fair, data.fit.table, data.test.table)
    assert plain.record["test"]["adversary_accuracy"] > chance + 0.1 and plain_probe > 0.5 + 0.1
    assert fair.record["test"]["adversary_accuracy"] <= chance + 0.03   # its own adversary ...
    assert fair_probe <= 0.5 + 0.03                                     # ... and a fresh one after the fit
    assert fair.record["test"]["demographic_parity_difference"] < 0.1 < plain.record["test"][
        "demographic_parity_difference"]


def test_the_representations_adversary_is_at_chance_at_a_large_weight():
    table = proxy_table()
    config = load_fair_config("fair_representation", ["steps=1000", "curve=''", "adversary_weight=0"])
    data = prepare(table, "group", config)
    plain = fit(table, "group", config)
    fair = fit(table, "group", replace(config, adversary_weight=10.0))
    chance = plain.record["test"]["adversary_chance"]
    assert plain.record["test"]["adversary_accuracy"] > chance + 0.2
    assert fair.record["test"]["adversary_accuracy"] <= chance + 0.03
    # a fresh probe still reads some of the group from z (docs/experiments/fairness.md), less than before
    assert probe_balanced_accuracy(fair, data.fit.table, data.test.table) < \
        probe_balanced_accuracy(plain, data.fit.table, data.test.table) - 0.05


# --- bad inputs ----------------------------------------------------------------------------------

def test_bad_inputs_are_named_on_one_line():
    table = proxy_table(300)
    cases = [
        ("sex", r"sensitive column 'sex' is not in the table; columns: x1, x2, group, y"),
        ("y", r"the sensitive column 'y' is the target itself"),
        ("x1", r"sensitive column 'x1' is numeric \(continuous, -3 to 5\); it must name groups"),
    ]
    for sensitive, message in cases:
        with pytest.raises(DataError, match=message):
            fit(table, sensitive, FairConfig(**TINY))
    one = Table(table.schema, {**table.data, "group": np.array(["f"] * 300, dtype=object)})
    with pytest.raises(DataError, match=r"sensitive column 'group' has one group \('f'\)"):
        fit(one, "group", FairConfig(**TINY))
    small = proxy_table(300, groups=("f", "m", "rare"), share=[0.49, 0.48, 0.03])
    with pytest.raises(DataError) as caught:
        fit(small, "group", FairConfig(**TINY))
    sizes = small.data["group"] == "rare"
    yes = int((small.data["y"][sizes] == "yes").sum())
    assert str(caught.value).count("\n") == 0
    assert (f"group(s) too small to estimate their rates: 'rare': {sizes.sum()} rows ({yes} 'yes', "
            f"{sizes.sum() - yes} other); each group needs at least 20 rows and 5 of each outcome") in str(caught.value)
    three = Table(Schema(table.schema.columns[:3] + [Column("y", "categorical", categories=["a", "b", "c"])], "y"),
                  {**table.data, "y": np.array(["a", "b", "c"] * 100, dtype=object)})
    with pytest.raises(DataError, match=r"target 'y' has 3 outcomes .* binarize it first"):
        fit(three, "group", FairConfig(**TINY))


def test_bad_settings_are_refused_naming_the_key():
    with pytest.raises(ConfigError, match="adversary_weight: must be >= 0, got -1"):
        load_fair_config(None, ["adversary_weight=-1"])
    with pytest.raises(ConfigError, match="curve: expected comma-separated adversary weights"):
        load_fair_config(None, ["curve=one,two"])
    with pytest.raises(ConfigError, match="unknown key 'alpha'"):
        load_fair_config(None, ["alpha=3"])
    with pytest.raises(ConfigError, match="criterion: expected one of"):
        load_fair_config(None, ["criterion=calibration"])


def test_a_run_folder_in_the_way_is_refused_before_any_work(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("")
    with pytest.raises(Exception, match="already holds a run"):
        fit(proxy_table(300), "group", FairConfig(**TINY), run_dir=tmp_path / "run")
    with pytest.raises(DataError):   # a bad input leaves no run folder behind
        fit(proxy_table(300), "sex", FairConfig(**TINY), run_dir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


# --- the split, the weight, the curve ---------------------------------------------------------------

def test_the_split_keeps_every_group_and_outcome_on_every_side():
    data = prepare(proxy_table(400, groups=("f", "m", "x")), "group", FairConfig(**TINY))
    for part in (data.fit, data.validation, data.test):
        cells = {(g, int(y)) for g, y in zip(part.group_names, part.y.tolist())}
        assert len(cells) == 6
    assert len(data.fit) + len(data.validation) + len(data.test) == 400
    kept, taken = split_cells(np.array(list("aaabbbbbbb")), 0.3, 0)
    assert sorted(np.concatenate([kept, taken]).tolist()) == list(range(10)) and len(taken) == 3


def test_the_weight_is_chosen_on_validation_rows_only():
    point = lambda w, acc, gap, test_acc: {"weight": w, "validation": {"accuracy": acc,
                                                                        "demographic_parity_difference": gap},
                                            "test": {"accuracy": test_acc, "demographic_parity_difference": 0.0}}
    points = [point(0, 0.80, 0.10, 0.99), point(1, 0.78, 0.015, 0.5), point(3, 0.76, 0.01, 0.5)]
    assert choose_weight(points, "parity", 0.02) == 1
    assert choose_weight(points, "parity", 0.001) == 3   # none within: the fairest


def test_fit_draws_the_curve_and_the_report_its_picture(tmp_path):
    table = proxy_table(300)
    model = fit(table, "group", FairConfig(steps=40, curve="0,10", choose_weight=True, gap_target=0.05))
    assert [p["weight"] for p in model.record["curve"]] == [0.0, 10.0] and model.record["weight"] in (0.0, 10.0)
    report = fair_report(model, table)
    assert {k: v for k, v in report["test"].items() if not k.startswith("probe")} == model.record["test"]
    assert 0 <= report["test"]["probe_balanced_accuracy"] <= 1 and report["test"]["probe_chance"] == 0.5
    json_path, picture = write_report(report, tmp_path)
    assert json_path.is_file() and picture.read_bytes()[:4] == b"\x89PNG"


# --- files and reuse ---------------------------------------------------------------------------------

def test_a_saved_model_loads_to_the_same_scores(tmp_path):
    table = proxy_table(300)
    model = fit(table, "group", FairConfig(**TINY, criterion="odds", hidden=8))
    model.save(tmp_path / "m")
    again = FairModel.load(tmp_path / "m")
    np.testing.assert_array_equal(model.scores(table), again.scores(table))
    assert again.record["test"] == model.record["test"] and again.groups == ["f", "m"]


def test_the_fair_encoder_feeds_any_scikit_learn_estimator(tmp_path):
    import pandas as pd
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    table = proxy_table(300)
    model = fit(table, "group", load_fair_config("fair_representation", ["steps=40", "curve=''", "rep_dim=3"]))
    model.save(tmp_path / "rep")
    frame = pd.DataFrame({k: table.data[k] for k in ("x1", "x2")})
    pipeline = make_pipeline(FairEncoder(tmp_path / "rep"), LogisticRegression())
    pipeline.fit(frame, table.data["y"])
    assert pipeline.score(frame, table.data["y"]) > 0.6
    z = clone(pipeline[0]).fit().transform(frame)
    assert z.shape == (300, 3) and np.abs(z).max() <= 1
    np.testing.assert_allclose(z, model.transform(table), rtol=1e-6)
    with pytest.raises(DataError, match=r"column\(s\) 'x2' are missing"):
        FairEncoder(tmp_path / "rep").fit().transform(frame[["x1"]])


# --- the patient tables ------------------------------------------------------------------------------

def test_patient_tables_have_a_yes_no_target_and_their_protected_columns():
    whas = patient_table("whas500")
    assert len(whas) == 500 and whas.schema.target == "died"
    assert whas.schema.column("gender").categories == ["female", "male"]
    assert set(whas.data["died"]) == {"yes", "no"}
    aids = patient_table("actg320")
    assert aids.schema.column("sex").categories == ["female", "male"] and "raceth" in aids.schema.names
    # two race groups hold 14 and 11 patients: refused, named with their sizes; the three largest fit
    with pytest.raises(DataError, match=r"'american indian or alaskan native': 11 rows \(1 'yes', 10 other\)"):
        prepare(aids, "raceth", FairConfig(**TINY))
    kept = keep_groups(aids, "raceth", ["white", "black", "hispanic"])
    assert prepare(kept, "raceth", FairConfig(**TINY)).groups == ["black", "hispanic", "white"]


def test_a_data_frame_becomes_a_table_with_missing_values_kept():
    import pandas as pd
    frame = pd.DataFrame({"age": np.arange(30.0), "sex": ["F", "M"] * 15, "lab": [1.5, None] * 15,
                          "out": [True, False, False] * 10})
    table = table_from_frame(frame, target="out")
    assert table.schema.column("sex").categories == ["F", "M"]
    assert table.schema.column("lab").type == "categorical"   # two values: a category
    assert table.schema.column("age").type == "ordinal" and table.schema.column("out").categories == ["False", "True"]
    with pytest.raises(DataError, match="target column 'nope' is not in the table"):
        table_from_frame(frame, target="nope")


# --- exact resume, for both games -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["debias", "representation"])
def test_a_stopped_fit_resumes_to_the_same_weights(stop_and_resume, method):
    recipe = "adversarial_debiasing" if method == "debias" else "fair_representation"
    config = load_fair_config(recipe, ["steps=12", "curve=''", "criterion=odds", "batch_size=32"])
    data = prepare(proxy_table(200), "group", config)
    game_of = {"debias": DebiasGame, "representation": RepresentationGame}[method]
    whole, resumed, start = stop_and_resume(lambda: game_of(data, config),
                                            LoopSettings(steps=config.steps, ckpt_every=5), stop_at=7)
    assert start == 5
    for name in ("net", "adversary"):
        for a, b in zip(whole.modules()[name].state_dict().values(), resumed.modules()[name].state_dict().values()):
            assert torch.equal(a, b)
