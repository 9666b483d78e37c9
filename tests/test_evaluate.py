"""gankit.evaluate on tiny runs: the digits (with a small random backbone) and the toy ring."""

import json
import math

import pytest
import torch
from typer.testing import CliRunner

import gankit.evaluate as ev
from gankit.cli import app
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.metrics.backbones import DomainClassifier
from gankit.sampling import load_generator
from gankit.train import train

TINY = ["model.g_width=16", "model.d_width=16", "model.z_dim=16", "train.batch_size=32",
        "train.log_every=5", "train.steps=10", "train.sample_every=5"]
N = 300


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two busy cores: torch's two-thread kernels wait on each other far longer than they compute."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fake_backbone(name):
    """A randomly initialised classifier for 8x8 images: the runs make 16x16 digits, so it resizes."""
    torch.manual_seed(1)
    return DomainClassifier(image_size=8, width=4, feature_dim=16).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def patched():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ev, "load_backbone", fake_backbone)
        mp.setattr(ev, "BACKBONES", ["digits"])
        yield mp


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval") / "digits"
    train(load_config("quickstart", TINY), run_dir=run, progress=False)  # 16x16 digits
    return run


@pytest.fixture(scope="module")
def digits_metrics(digits_run, patched):
    return ev.evaluate(digits_run, n=N, parzen=True, progress=False)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval") / "ring"
    cfg = load_config("toy_ring", ["model.g_width=16", "model.d_width=16", "data.n=2000", "train.batch_size=64",
                                   "train.steps=10", "train.log_every=5"])
    train(cfg, run_dir=run, progress=False)
    return run


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_metrics_json_is_what_evaluate_returns(digits_run, digits_metrics):
    on_disk = json.loads((digits_run / "metrics.json").read_text())
    assert on_disk == digits_metrics
    m = digits_metrics
    assert m["step"] == 10 and m["n"] == N and m["seed"] == 0 and m["dataset"] == "digits"
    assert m["checkpoint"].endswith("ckpt-0000010.json") and m["gankit"]
    assert m["splits"] == {"train": 1500, "test": 297, "train_subset": N}
    assert m["backbone"]["name"] == "digits" and m["backbone"]["resized_from"] == 16
    assert m["elapsed_s"] > 0


def test_quality_metrics_and_their_floor(digits_metrics):
    q = digits_metrics["quality"]
    for side in ("generated", "floor"):
        for key in ("fid", "kid_mean", "precision", "recall", "density", "coverage",
                    "classifier_score_mean", "class_kl_to_uniform"):
            assert finite(q[side][key]), (side, key)
        assert q[side]["n_real"] == 297 and q[side]["n_fake"] == N
    # real training images are closer to the real test images than 10-step samples are
    assert q["floor"]["fid"] < q["generated"]["fid"]
    assert q["floor"]["recall"] > q["generated"]["recall"]


def test_memorization_with_floor_and_copier(digits_run, digits_metrics):
    mem = digits_metrics["memorization"]
    nn = mem["nn_distance"]
    assert nn["generated"]["n_generated"] == N and nn["generated"]["n_heldout"] == 297
    assert 0.5 < nn["floor"]["median_ratio"] < 2  # unseen real images: about 1
    cp = mem["copying"]
    assert cp["space"] == "backbone features"
    assert finite(cp["generated"]["z_u"]) and finite(cp["floor"]["z_u"])
    assert cp["copier"]["z_u"] < -3  # training images themselves: copying, and the test sees it
    assert (digits_run / "eval" / "nn_grid.png").stat().st_size > 200
    assert digits_metrics["figures"]["nn_grid"] == "eval/nn_grid.png"


def test_parzen_when_asked(digits_metrics):
    p = digits_metrics["parzen"]
    assert finite(p["generated"]["mean"]) and finite(p["floor"]["mean"])
    assert p["generated"]["std_error"] > 0 and p["generated"]["sigma"] > 0
    assert p["validation_rows"] == [1200, 1500] and p["n_test"] == 297
    assert any("not comparable" in note for note in p["notes"])  # 16x16, not MNIST's 28x28


def test_evaluate_renders_the_report(digits_run, digits_metrics):
    page = (digits_run / "report.html").read_text()
    assert "nearest training images" in page and "FID" in page and "Parzen" in page


def test_samples_are_reproducible(digits_run):
    gen = load_generator(digits_run)
    a, b, c = ev.generate(gen, 20, 0), ev.generate(gen, 20, 0), ev.generate(gen, 20, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (20, 1, 16, 16) and a.abs().max() <= 1


def test_conditional_generators_cycle_through_the_classes(tmp_path, monkeypatch):
    run = tmp_path / "cgan"
    train(load_config("quickstart", TINY + ["model.conditional=projection", "train.steps=2"]), run_dir=run,
          progress=False)
    gen = load_generator(run)
    seen = []
    monkeypatch.setattr(gen.G, "forward", lambda z, y: seen.append(y) or torch.zeros(len(z), 1, 16, 16))
    ev.generate(gen, 25, 0)
    assert torch.equal(torch.cat(seen), torch.arange(25) % 10)


def test_without_a_backbone_memorization_runs_in_pixels(digits_run, monkeypatch, tmp_path):
    monkeypatch.setattr(ev, "BACKBONES", [])
    m = ev.evaluate(digits_run / "checkpoints" / "ckpt-0000010.json", n=100, progress=False)
    assert "quality" not in m and "no feature backbone" in m["skipped"]["quality"]
    assert "parzen" in m["skipped"] and "parzen" not in m
    assert m["memorization"]["copying"]["space"].startswith("pixels")


def test_toy_ring_gets_mode_coverage(ring_run):
    m = ev.evaluate(ring_run, n=500, progress=False)
    modes = m["modes"]
    assert modes["floor"]["modes_hit"] == 8 and modes["floor"]["high_quality_fraction"] > 0.95
    assert 0 <= modes["generated"]["modes_hit"] <= 8
    assert sum(modes["generated"]["per_mode_counts"]) <= 500
    assert set(m["skipped"]) == {"quality", "memorization", "parzen"}
    assert (ring_run / "eval" / "scatter.png").is_file()
    assert "modes hit" in (ring_run / "report.html").read_text()


def test_too_few_samples_is_a_user_error(digits_run):
    with pytest.raises(GankitError, match="at least"):
        ev.evaluate(digits_run, n=10, progress=False)


def test_cli_evaluate_prints_metric_value_floor(ring_run):
    result = CliRunner().invoke(app, ["evaluate", str(ring_run), "-n", "200", "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "modes hit" in result.output and "floor" in result.output
    assert "metrics.json" in result.output and "report.html" in result.output
    assert json.loads((ring_run / "metrics.json").read_text())["n"] == 200


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


def test_natural_images_without_inception_weights_say_where_to_get_them(digits_run, monkeypatch, tmp_path):
    monkeypatch.setattr(ev, "NATURAL_IMAGES", ("digits",))  # pretend: a CIFAR-10 run
    missing = tmp_path / "nowhere" / "pt_inception.pth"
    m = ev.evaluate(digits_run / "checkpoints" / "ckpt-0000010.json", n=100, progress=False, inception=missing)
    assert "quality" not in m
    assert str(missing) in m["skipped"]["quality"] and "pytorch-fid" in m["skipped"]["quality"]


def test_run_folder_of_regular_and_best_checkpoints(tmp_path):
    assert ev.run_folder(tmp_path / "run" / "checkpoints" / "ckpt-0000010.json") == tmp_path / "run"
    assert ev.run_folder(tmp_path / "run" / "best" / "ckpt-0000010.json") == tmp_path / "run"
    assert ev.run_folder(tmp_path / "loose" / "ckpt-0000010.json") == tmp_path / "loose"


def test_class_accuracy_counts_argmax_hits():
    probs = torch.eye(4)[[0, 1, 2, 3]]
    assert ev.class_accuracy(probs, torch.tensor([0, 1, 2, 3])) == 1.0
    assert ev.class_accuracy(probs, torch.tensor([1, 1, 0, 0])) == 0.25


def test_conditional_runs_report_whether_samples_are_the_asked_class(tmp_path, patched, digits_metrics):
    run = tmp_path / "cgan"
    train(load_config("quickstart", TINY + ["model.conditional=projection", "train.steps=2"]), run_dir=run,
          progress=False)
    q = ev.evaluate(run, n=N, progress=False)["quality"]
    assert 0 <= q["generated"]["class_accuracy"] <= 1 and 0 <= q["floor"]["class_accuracy"] <= 1
    assert "class_accuracy" not in digits_metrics["quality"]["generated"]  # unconditional: not asked
