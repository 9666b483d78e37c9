"""The input catalogue (benchmarks/reliability.py): every bad input ends in gankit's own one-line error,
or works; never a traceback, never a half-written output. Hypothesis adds inputs of its own."""

import os
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
FUZZ = int(os.environ.get("GANKIT_FUZZ", "1"))   # GANKIT_FUZZ=20: twenty times the generated inputs


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


@settings(max_examples=FUZZ * 25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


# --- generated tables: odd encodings, extremes, missing values, mixed types ---------------

CELL = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True, width=32),
                 st.sampled_from(["", "NA", "n.d.", "?", "NULL", "-", "1e308", "-1e308", "1,5", " 3 ", "0x1F",
                                  "é", "≤5", '"quoted, text"', "inf", "nan"]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6))


@settings(max_examples=FUZZ * 20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.integers(1, 4), rows=st.integers(0, 45), cells=st.data(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
       outcome=st.lists(st.sampled_from(["yes", "no", "", "maybe"]), min_size=45, max_size=45))
def test_generated_tables_fit_or_name_their_culprit(columns, rows, cells, encoding, outcome):
    header = [f"c{j}" for j in range(columns)] + ["outcome"]
    lines = [",".join(header)]
    for i in range(rows):
        values = [cells.draw(CELL) for _ in range(columns)]
        lines.append(",".join(str(v).replace(",", ";") for v in values) + "," + outcome[i])

    def setup(tmp: Path) -> None:
        (tmp / "t.csv").write_bytes("\n".join(lines).encode(encoding, errors="replace"))
    case = reliability.Case("generated", "table", ["synth", "fit", "{tmp}/t.csv", "--target", "outcome", "-o",
                                                   "{tmp}/m", "--set", "steps=2", "--set", "batch_size=4",
                                                   "--no-progress"], setup, outputs=("m",))
    _check(case)


# --- damaged checkpoints ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    reliability.trained_run()(folder)
    return folder / "run"


@settings(max_examples=FUZZ * 15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 0.999), which=st.sampled_from([".safetensors", ".json"]),
       command=st.sampled_from([["sample", "{tmp}/run", "-o", "{tmp}/g.png"], ["train", "--resume", "{tmp}/run"],
                                ["info", "{tmp}/run"]]))
def test_truncated_checkpoints_are_refused_by_name(tiny_run, cut, which, command):
    import shutil

    def setup(tmp: Path) -> None:
        shutil.copytree(tiny_run, tmp / "run")
        path = sorted((tmp / "run" / "checkpoints").glob(f"ckpt-*{which}"))[-1]
        data = path.read_bytes()
        path.write_bytes(data[:int(cut * len(data))])
    case = reliability.Case("generated", "truncated checkpoint", command, setup, outputs=("g.png",))
    outcome = _check(case)
    if outcome.kind == "error" and command[0] != "info":
        assert "ckpt-" in outcome.message   # the damaged checkpoint is named
