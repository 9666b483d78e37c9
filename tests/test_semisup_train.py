"""End-to-end tests of gankit.semisup on real MNIST: unlabeled data helps, exact resume, the CLI."""

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from typer.testing import CliRunner

from gankit.cli import app
from gankit.semisup import load_semisup_config, load_semisup_data, semisup_trainer, train_semisup

# A small version of the paper's setup: 10 labels per class, 14x14 images, D 196-250-250-10,
# G 100-250-250-196, 400 steps of batch 100. Same seeds, same labels for both methods.
SHORT = ["labels=100", "unlabeled_limit=10000", "image_size=14", "d_hidden=250-250", "g_hidden=250-250",
         "epochs=4", "eval_every=100", "seed=0"]
TINY = ["labels=20", "unlabeled_limit=300", "image_size=7", "d_hidden=16", "g_hidden=16", "z_dim=8",
        "init_batch=100", "epochs=2", "seed=3"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _config(root, out, extra):
    return load_semisup_config("ssgan_mnist100", [f"data_root={root}", f"out_dir={out}", "device=cpu", *extra])


def test_unlabeled_data_clearly_beats_the_supervised_baseline(real_data_root, tmp_path):
    cfg = _config(real_data_root, tmp_path, SHORT)
    data = load_semisup_data("mnist", 100, 0, root=real_data_root, unlabeled_limit=10000, image_size=14)
    supervised = train_semisup(_config(real_data_root, tmp_path, SHORT + ["method=supervised"]),
                               progress=False, data=data)
    semisup = train_semisup(cfg, progress=False, data=data)
    assert semisup.test_size == supervised.test_size == 10_000
    # measured here (seed 0): 2268 errors supervised-only, 2000 semi-supervised (seed 1: 1749 vs 1568)
    [errors], [baseline] = semisup.test_errors, supervised.test_errors
    assert errors < baseline - 150, (errors, baseline)
    run = semisup.run_dir
    labeled = json.loads((run / "labeled_indices.json").read_text())
    assert labeled["indices"] == data.labeled_indices[0].tolist()
    assert sorted(labeled["classes"]) == sorted(list(range(10)) * 10)
    result = json.loads((run / "result.json").read_text())
    assert result["test_errors"] == errors and result["method"] == "ssgan"
    assert (run / "classifier.safetensors").is_file() and (run / "samples.png").is_file()
    assert (run / "mistakes.png").is_file() and sum(result["errors_by_true_class"]) == errors


def test_validation_errors_are_counted_on_held_out_training_labels(real_data_root, tmp_path):
    game = semisup_trainer(_config(real_data_root, tmp_path, TINY + ["val_size=50", "parallel_seeds=2"]),
                           tmp_path / "run").game
    d = game.data
    for k in range(2):
        assert not set(d.val_indices[k].tolist()) & set(d.labeled_indices[k].tolist())
    rows = game.evaluate()
    for k, row in enumerate(rows):
        predicted = game.classifiers()[k](d.x_unlabeled[d.val_indices[k]]).argmax(1)
        assert row["val_errors"] == int((predicted != d.y_val[k]).sum())
        assert 0 <= row["val_errors_raw"] <= 50 and "test_errors" in row


def test_the_generator_gets_its_own_adam_settings_on_the_same_schedule(real_data_root, tmp_path):
    extra = ["g_lr=0.001", "g_beta1=0.0", "beta2=0.9999", "lr_decay_start=0.5"]
    trainer = semisup_trainer(_config(real_data_root, tmp_path, TINY + extra), tmp_path / "run")
    d, g = trainer.game.opt_d.param_groups[0], trainer.game.opt_g.param_groups[0]
    assert (d["lr"], d["betas"], g["lr"], g["betas"]) == (0.003, (0.5, 0.9999), 0.001, (0.0, 0.9999))
    for _ in range(5):  # 6 steps in all: the last 3 decay both rates linearly, in proportion
        trainer.train_step()
    assert d["lr"] == pytest.approx(0.003 * 2 / 3) and g["lr"] == pytest.approx(0.001 * 2 / 3)


@pytest.mark.parametrize("target", ["pi", "ema"])
def test_a_resumed_run_ends_exactly_where_the_uninterrupted_one_does(real_data_root, tmp_path, target):
    data = load_semisup_data("mnist", 20, 3, root=real_data_root, unlabeled_limit=300, image_size=7)
    # the Bad-GAN optimizer settings and the extra terms too: every knob must resume exactly
    tiny = TINY + ["g_lr=0.001", "g_beta1=0.0", "beta2=0.9999", "entropy_weight=0.1", "consistency_weight=1.0",
                   f"consistency_target={target}", "balance_weight=1.0", "balance_ema=0.9"]
    whole = train_semisup(_config(real_data_root, tmp_path, tiny), run_dir=tmp_path / "whole",
                          progress=False, data=data)
    first = semisup_trainer(_config(real_data_root, tmp_path, tiny), tmp_path / "split", data=data)
    for _ in range(4):  # stop mid-epoch (3 steps per epoch)
        first.train_step()
    marginal = first.game.marginal.mean  # the running class marginal moved off uniform and is a distribution
    assert not torch.allclose(marginal, torch.full_like(marginal, 0.1)) and torch.allclose(marginal.sum(-1),
                                                                                          torch.ones(1))
    first.save()
    resumed = train_semisup(_config(real_data_root, tmp_path, tiny), run_dir=tmp_path / "split", resume=True,
                            progress=False, data=data)
    assert resumed.test_errors == whole.test_errors
    a = load_file(tmp_path / "whole" / "classifier.safetensors")
    b = load_file(tmp_path / "split" / "classifier.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_the_mean_teacher_compares_d_with_its_lagging_ema_not_with_itself(real_data_root, tmp_path):
    # without noise D's two Pi-model views are one prediction; the EMA teacher lags D's steps
    data = load_semisup_data("mnist", 20, 3, root=real_data_root, unlabeled_limit=300, image_size=7)
    quiet = TINY + ["input_noise=0", "hidden_noise=0", "consistency_weight=1.0"]
    terms = {}
    for target in ("pi", "ema"):
        trainer = semisup_trainer(_config(real_data_root, tmp_path, quiet + [f"consistency_target={target}"]),
                                  tmp_path / target, data=data)
        terms[target] = [trainer.train_step()["consistency_unl"].item() for _ in range(3)]
        game = trainer.game
        if target == "ema":
            assert game.ema.model.training and not any(p.requires_grad for p in game.ema.model.parameters())
            assert not game.classifiers()[0].training  # tested without the teacher's noise
    assert terms["pi"] == [0.0, 0.0, 0.0]
    assert terms["ema"][0] == pytest.approx(0.0, abs=1e-12) and min(terms["ema"][1:]) > 1e-6, terms


def test_semisup_and_classify_commands(real_data_root, tmp_path):
    runner = CliRunner()
    sets = [arg for item in TINY if not item.startswith(("labels", "epochs", "seed")) for arg in ("--set", item)]
    result = runner.invoke(app, ["semisup", "--dataset", "mnist", "--labels", "20", "--seed", "1", "--epochs", "1",
                                 "--data-root", str(real_data_root), "-o", str(tmp_path / "run"), "--no-progress",
                                 *sets])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "test error" in result.output and "/ 10000" in result.output
    result = runner.invoke(app, ["semisup", "--resume", str(tmp_path / "run"), "--epochs", "2", "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["epochs"] == 2
    png = tmp_path / "seven.png"
    from gankit.data import load_dataset
    test = load_dataset("mnist", root=real_data_root, split="test")
    Image.fromarray(test.x[0, 0].numpy()).save(png)
    result = runner.invoke(app, ["classify", str(tmp_path / "run"), str(png)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "seven.png:" in result.output and "probability" in result.output
