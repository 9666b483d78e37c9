"""The input catalogue (benchmarks/reliability.py): every bad input ends in gankit's own one-line error,
or works; never a traceback, never a half-written output. Hypothesis adds inputs of its own."""

import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reliability  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("case", reliability.catalogue(), ids=lambda c: f"{c.group}: {c.name}")
def test_the_catalogue(case, tmp_path, real_data_root):
    outcome = reliability.run_case(case, tmp_path)
    assert outcome.passed, (outcome.why, outcome.kind, outcome.message)


def _check(case: reliability.Case) -> reliability.Outcome:
    """Run a generated case: it may work or fail, but only the clean way."""
    case.expect = "ok|error"
    with tempfile.TemporaryDirectory() as tmp:
        outcome = reliability.run_case(case, Path(tmp))
    assert outcome.passed, (outcome.why, outcome.kind, outcome.message)
    return outcome


ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 64), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=12), st.lists(st.integers(-2, 2), max_size=3),
                st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
KEYS = {"train": ["lr_g", "lr_d", "betas", "loss", "n_dis", "ema", "seed", "optimizer", "lr_schedule", "gp_weight",
                  "update", "precision", "lrg"],
        "model": ["noise", "conditional", "z_dim", "arch", "spectral_norm", "d_dropout", "d_norm", "foo"],
        "data": ["name", "channels", "limit", "bar"]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(sorted(KEYS)), st.data()), min_size=1, max_size=4),
       values=st.data())
def test_generated_recipes_work_or_name_their_culprit(changes, values):
    recipe = {"name": "gen", "data": {"name": "digits", "image_size": 8},
              "model": {"g_width": 8, "d_width": 8, "z_dim": 8},
              "train": {"steps": 2, "batch_size": 16, "eval_every": 0, "sample_every": 2}}
    for section, data in changes:
        key = data.draw(st.sampled_from(KEYS[section]))
        recipe[section][key] = values.draw(ODD)
    text = yaml.safe_dump(recipe)
    case = reliability.Case("generated", "recipe", ["train", "{tmp}/gen.yaml", "--out", "{tmp}/r", "--no-progress"],
                            reliability.write("gen.yaml", text), outputs=("r",))
    _check(case)
