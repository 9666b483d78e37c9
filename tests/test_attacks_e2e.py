"""End to end: train classifiers (clean / FGSM / PGD), load them back, attack them from the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from gankit.attacks import FGSM, load_classifier
from gankit.attacks.train import RobustTrainConfig, train_classifier
from gankit.checkpoint import save_checkpoint
from gankit.cli import app
from gankit.errors import ConfigError, GankitError


def test_real_mnist_train_then_attack_from_the_cli(real_data_root, tmp_path):
    cfg = RobustTrainConfig(dataset="mnist", data_root=str(real_data_root), arch="small", defence="none",
                            n_train=3000, epochs=2, batch_size=50, eval_n=500)
    result = train_classifier(cfg, out=tmp_path / "run", progress=False)
    assert result.test_accuracy > 0.85 and result.finished
    model = load_classifier(tmp_path / "run")
    assert not model.training
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["attack", str(tmp_path / "run"), "-a", "fgsm", "-a", "pgd", "--eps", "0.1",
                                   "--eps", "0.25", "--steps", "5", "-n", "100", "--no-progress", "-o", str(out),
                                   "--data-root", str(real_data_root)])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 100 and report["clean_accuracy"] > 0.85
    for name in ("fgsm", "pgd"):
        accs = [report["attacks"][name]["by_eps"][e]["robust_accuracy"] for e in ("0.1", "0.25")]
        assert accs[1] <= accs[0] <= report["clean_accuracy"]
        assert (out / f"examples_{name}.png").is_file()
    # an undefended net is easy to fool at Goodfellow's eps = 0.25
    assert report["attacks"]["fgsm"]["by_eps"]["0.25"]["robust_accuracy"] < 0.5
    assert report["attacks"]["pgd"]["by_eps"]["0.25"]["robust_accuracy"] <= \
        report["attacks"]["fgsm"]["by_eps"]["0.25"]["robust_accuracy"]
    assert (out / "robust_accuracy.png").stat().st_size > 1000


@pytest.mark.parametrize("defence", ["fgsm", "pgd"])
def test_adversarial_training_runs_and_resumes_on_digits(defence, tmp_path):
    cfg = RobustTrainConfig(dataset="digits", arch="small", defence=defence, eps=0.1, pgd_steps=2,
                            epochs=1, batch_size=100, n_train=400, eval_n=200, max_minutes=1e-9)
    stopped = train_classifier(cfg, out=tmp_path, progress=False)
    assert not stopped.finished and stopped.step == 1   # the time budget is checked after each step
    res = CliRunner().invoke(app, ["robust-train", "--resume", str(tmp_path), "--max-minutes", "5", "--no-progress"])
    assert res.exit_code == 0, res.output
    model = load_classifier(tmp_path)
    x = torch.rand(3, 1, 8, 8)
    assert model(x).shape == (3, 10)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # 400 images / batch 100


def test_resumed_pgd_training_equals_the_uninterrupted_run(tmp_path, one_thread):
    """Batches, PGD starts and eps are functions of the step, Adam's state is saved: resuming is exact."""
    base = dict(dataset="digits", arch="small", defence="pgd", eps=0.2, pgd_steps=2, eps_warmup=0.5,
                batch_size=50, n_train=400, eval_n=100, lr_schedule="constant", checkpoint_minutes=1e9)
    whole = train_classifier(RobustTrainConfig(epochs=2, **base), out=tmp_path / "whole", progress=False)
    train_classifier(RobustTrainConfig(epochs=0.75, **base), out=tmp_path / "split", progress=False)
    # a killed process may have logged rows past its last checkpoint: they must not survive the resume
    with open(tmp_path / "split" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 7, "loss": -1.0}) + "\n")
    resumed = train_classifier(RobustTrainConfig(epochs=2, **base), out=tmp_path / "split", resume=True,
                               progress=False)
    assert resumed.step == whole.step == 16
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)

    def logged(run):
        return [(r["step"], r["loss"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    split = logged(tmp_path / "split")
    assert [step for step, _ in split] == list(range(1, 17))  # the stray row is gone
    assert split == logged(tmp_path / "whole")


def test_bad_training_config_is_rejected():
    with pytest.raises(ConfigError, match="defence: expected one of"):
        train_classifier(RobustTrainConfig(dataset="digits", defence="mixup"))
    with pytest.raises(GankitError, match="eps: must be >= 0"):
        train_classifier(RobustTrainConfig(dataset="digits", eps=-1.0))


def test_any_gankit_classifier_checkpoint_can_be_attacked(tmp_path):
    from gankit.attacks.models import SmallCNN
    net = SmallCNN(image_size=8)
    spec = {"target": "gankit.attacks.models:SmallCNN", "kwargs": {"image_size": 8}, "module": "D",
            "input_range": [0, 1]}
    save_checkpoint(tmp_path, 1, modules={"D": net}, optimizers={}, meta={"classifier": spec}, keep=1)
    model = load_classifier(tmp_path)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(model(x), net.eval()(x))
    assert FGSM(eps=0.1)(model, x, torch.zeros(4, dtype=torch.long)).shape == x.shape
    save_checkpoint(tmp_path / "evil", 1, modules={"D": net}, optimizers={},
                    meta={"classifier": {**spec, "target": "os:system"}}, keep=1)
    with pytest.raises(GankitError, match="only gankit's own"):
        load_classifier(tmp_path / "evil")
    save_checkpoint(tmp_path / "gan", 1, modules={"G": net}, optimizers={}, meta={}, keep=1)
    with pytest.raises(GankitError, match="does not describe a classifier"):
        load_classifier(tmp_path / "gan")


def test_cli_attack_reports_unknown_attack_names(tmp_path):
    res = CliRunner().invoke(app, ["attack", "backbone:digits", "-a", "bim", "-n", "10", "--no-progress",
                                   "-o", str(tmp_path)])
    assert res.exit_code != 0
    assert "unknown attack 'bim'" in str(res.exception) + res.output


def test_the_semisupervised_classifier_can_be_attacked(tmp_path):
    semisup = pytest.importorskip("gankit.semisup.classifier")
    from gankit.semisup.nets import Classifier
    net = Classifier(in_features=64, hidden=(16,), num_classes=10)
    try:
        semisup.save_classifier(tmp_path / "classifier", net, {"config": {"d_hidden": "16"}, "dataset": "digits"})
    except Exception as exc:  # that module's file format is its own; skip if it moved on
        pytest.skip(f"gankit.semisup.classifier.save_classifier changed: {exc}")
    model = load_classifier(tmp_path)
    x = torch.rand(5, 1, 8, 8)
    torch.testing.assert_close(model(x), net.eval()(x))
    res = CliRunner().invoke(app, ["attack", str(tmp_path), "-a", "fgsm", "--eps", "0.1", "-n", "20",
                                   "--no-progress", "-o", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report" / "report.json").is_file()
