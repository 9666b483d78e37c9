"""`gankit detect train | eval | score` as a user types them."""

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app, main
from gankit.config import load_config
from gankit.data import load_dataset
from gankit.train import train

runner = CliRunner()
TINY_GAN = ["data.image_size=8", "model.g_width=8", "model.d_width=8", "train.steps=20", "train.eval_every=0",
            "train.sample_every=1000", "train.ckpt_every=1000", "train.batch_size=32"]
TINY_DETECTOR = ["--set", "n_train=120", "--set", "steps=20", "--set", "warmup_steps=2", "--set", "model.width=4",
                 "--set", "model.feature_dim=8", "--set", "batch_size=32", "-n", "40", "--no-progress"]


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def gankit(monkeypatch, capsys, *args) -> tuple[int, str]:
    """The command as a shell runs it: exit status and stderr, its lines joined."""
    monkeypatch.setattr(sys, "argv", ["gankit", *map(str, args)])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, " ".join(capsys.readouterr().err.split())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny digit GANs and a detector trained on both of them (the second named as the issue writes it)."""
    root = tmp_path_factory.mktemp("detect-cli")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, seed in (("a", 0), ("b", 1)):
            train(load_config("quickstart", TINY_GAN + [f"train.seed={seed}"]), run_dir=root / name, progress=False)
        out = invoke("detect", "train", "--real", "digits", "--fake", root / "a", root / "b", *TINY_DETECTOR,
                     "--out", root / "detector")
    finally:
        torch.set_num_threads(before)
    return root, out


def test_train_learns_every_fake_run_and_reports(runs):
    root, out = runs
    config = (root / "detector" / "config.yaml").read_text()
    assert str(root / "a") in config and str(root / "b") in config
    report = json.loads((root / "detector" / "report.json").read_text())
    assert report["trained_on"] == ["a", "b"] and report["n"] == 40
    assert "CNN" in out and "spectrum LR" in out and "pixel 5-NN" in out and "│ b *" in out


def test_eval_adds_held_out_generators(runs, tmp_path):
    root, _ = runs
    invoke("detect", "eval", root / "detector", "--test", root / "a", "-n", 30, "--no-baselines",
           "-o", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert list(report["results"]) == ["CNN"] and report["n"] == 30


def test_score_reads_files_and_folders(runs, tmp_path):
    root, _ = runs
    x = load_dataset("digits", split="test").x[:3]
    (tmp_path / "folder").mkdir()
    for i, image in enumerate(x):
        Image.fromarray(image[0].numpy()).save(tmp_path / "folder" / f"{i}.png")
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "big.png")
    out = " ".join(invoke("detect", "score", root / "detector", tmp_path / "folder", tmp_path / "big.png").split())
    assert out.count(".png") == 4 and "of 4 image(s) scored 0.5 or more; 1 resized to 8x8" in out


def test_a_png_scores_as_its_pixels(runs, tmp_path):
    """Reading a saved image changes nothing: the score of the file is the score of its tensor."""
    from gankit.detect import CNNScorer, load_detector, read_image_files
    root, _ = runs
    x = load_dataset("digits", split="test").x[:1]
    Image.fromarray(x[0, 0].numpy()).save(tmp_path / "d.png")
    _, pixels, resized = read_image_files([tmp_path / "d.png"], (1, 8, 8))
    assert resized == 0 and torch.equal(pixels, x)
    scorer = CNNScorer(load_detector(root / "detector")[0])
    assert scorer.scores(pixels) == pytest.approx(scorer.scores(x))


@pytest.mark.parametrize("args, expected", [
    (["detect", "train", "--real", "digits"], "name the generator to learn from: --fake RUN"),
    (["detect", "train", "--fake", "NOWHERE"], "fake: NOWHERE does not exist"),
    (["detect", "score", "NOWHERE", "x.png"], "NOWHERE"),
    (["detect", "train", "--fake", "a", "--set", "noise_seed=0"], "noise_seed: 0 draws the evaluation samples"),
])
def test_user_errors_are_one_line(monkeypatch, capsys, tmp_path, args, expected):
    monkeypatch.chdir(tmp_path)
    status, err = gankit(monkeypatch, capsys, *args)
    assert status == 2 and err.startswith("error:") and "Traceback" not in err and expected in err, err


def test_score_refuses_a_gan_run_and_missing_images(runs, monkeypatch, capsys, tmp_path):
    root, _ = runs
    status, err = gankit(monkeypatch, capsys, "detect", "score", root / "a", tmp_path)
    assert status == 2 and "is not a detector checkpoint" in err
    status, err = gankit(monkeypatch, capsys, "detect", "score", root / "detector", tmp_path / "none.png")
    assert status == 2 and "none.png does not exist" in err
    (tmp_path / "empty").mkdir()
    status, err = gankit(monkeypatch, capsys, "detect", "score", root / "detector", tmp_path / "empty")
    assert status == 2 and "no images in this folder" in err


@pytest.mark.parametrize("command", [["detect"], ["detect", "train"], ["detect", "eval"], ["detect", "score"]])
def test_help(command):
    assert "Usage" in invoke(*command, "--help")
