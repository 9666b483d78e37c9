"""Real (short) training runs on the embedded digits and toy data."""

import json
import os
import signal

import pytest
import torch

from gankit.checkpoint import list_checkpoints, read_checkpoint
from gankit.config import load_config
from gankit.errors import TrainingDiverged
from gankit.train import train

TINY = ["data.image_size=8", "model.g_width=16", "model.d_width=16", "model.z_dim=16",
        "train.batch_size=32", "train.log_every=2"]


def tiny(*overrides, recipe="quickstart"):
    return load_config(recipe, TINY + list(overrides))


def test_short_run_writes_everything_a_user_looks_at(tmp_path):
    cfg = tiny("train.steps=12", "train.sample_every=6", "train.ckpt_every=4", "train.keep_ckpts=2")
    result = train(cfg, run_dir=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert result.step == 12 and result.run_dir == run
    assert (run / "config.yaml").is_file()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["torch"] == torch.__version__
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"} <= set(rows[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000006.png", "step_0000012.png"]
    assert (run / "loss_curve.png").stat().st_size > 1000
    assert [p.stem for p in list_checkpoints(run / "checkpoints")] == ["ckpt-0000008", "ckpt-0000012"]
    record, tensors = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert record["step"] == 12 and record["config"]["train"]["steps"] == 12
    assert any(k.startswith("opt_d/") for k in tensors)


class Crash(Exception):
    pass


def crash_at(step):
    def callback(s, trainer):
        if s == step:
            raise Crash
    return callback


def weights(result):
    return {**{f"G.{k}": v for k, v in result.generator.state_dict().items()},
            **{f"D.{k}": v for k, v in result.discriminator.state_dict().items()}}


@pytest.mark.parametrize("overrides", [
    # DCGAN with BatchNorm, Adam and EMA, scored by FID every 4 steps
    ("train.ema=0.9", "train.ema_start=3", "train.eval_every=4", "train.eval_samples=100"),
    # the 2014 MLP with dropout, SGD, exponential lr decay and a momentum ramp
    ("model.arch=mlp2014", "train.optimizer=sgd", "train.lr_g=0.05", "train.lr_d=0.05",
     "train.lr_schedule=exponential", "train.lr_decay=1.01", "train.momentum_final=0.7",
     "train.momentum_ramp_steps=10"),
    # the same with the 2014 code's simultaneous update
    ("model.arch=mlp2014", "train.optimizer=sgd", "train.update=simultaneous", "train.momentum_final=0.7",
     "train.momentum_ramp_steps=10"),
])
def test_resume_after_a_crash_gives_the_uninterrupted_weights(tmp_path, overrides):
    cfg = tiny("train.steps=14", "train.ckpt_every=4", *overrides)
    whole = train(cfg, run_dir=tmp_path / "whole", progress=False)
    with pytest.raises(Crash):
        train(cfg, run_dir=tmp_path / "killed", progress=False, callbacks=[crash_at(10)])
    assert list_checkpoints(tmp_path / "killed" / "checkpoints")[-1].stem == "ckpt-0000008"
    resumed = train(cfg, run_dir=tmp_path / "killed", resume=True, progress=False)
    assert resumed.step == 14
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(l)["step"] for l in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 15))  # the log was rolled back to the checkpoint, then continued
    if "train.eval_every=4" in overrides:  # so was the FID log, and it matches the uninterrupted one
        evals = [(tmp_path / r / "evals.jsonl").read_text() for r in ("whole", "killed")]
        assert evals[0] == evals[1] and len(evals[0].splitlines()) == 4  # steps 4, 8, 12, 14


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(step, trainer):
        if step == 6:
            with torch.no_grad():
                next(trainer.game.D.parameters()).fill_(float("nan"))
    cfg = tiny("train.steps=20", "train.ckpt_every=4")
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, run_dir=tmp_path / "run", progress=False, callbacks=[poison])
    message = str(err.value)
    assert "nan" in message and "ckpt-0000004" in message
    ckpts = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.stem for p in ckpts] == ["ckpt-0000004"]
    _, tensors = read_checkpoint(ckpts[-1])
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_sigint_stops_after_the_step_and_saves(tmp_path):
    def interrupt(step, trainer):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)
    cfg = tiny("train.steps=50", "train.ckpt_every=40")
    result = train(cfg, run_dir=tmp_path / "run", progress=False, callbacks=[interrupt])
    assert result.interrupted and result.step == 4   # the signal came after step 3: one more step, then stop
    assert list_checkpoints(tmp_path / "run" / "checkpoints")[-1].stem == "ckpt-0000004"


@pytest.mark.parametrize("overrides", [
    ("train.loss=wgan", "train.gp_weight=10", "train.n_dis=2", "model.spectral_norm=true"),
    ("train.loss=hinge", "model.spectral_norm=true", "model.arch=resnet", "model.g_width=16"),
    ("train.loss=lsgan", "train.r1_weight=1"),
    ("train.loss=minimax", "model.conditional=ac"),
    ("train.loss=nonsat", "model.conditional=projection"),
    ("train.precision=bf16",),
    ("train.update=simultaneous", "model.conditional=ac", "train.gp_weight=1"),
])
def test_each_objective_and_conditioning_trains(tmp_path, overrides):
    if "model.arch=resnet" in overrides:
        overrides = overrides + ("data.image_size=16",)
    cfg = tiny("train.steps=4", "train.ckpt_every=4", *overrides)
    result = train(cfg, run_dir=tmp_path / "run", progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert all(v == v for v in row.values())  # no NaN
    if "train.gp_weight=10" in overrides:
        assert "gp" in row
    if "model.conditional=ac" in overrides:
        assert "d_ac" in row and "g_ac" in row
    assert result.step == 4


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_simultaneous_update_judges_g_by_the_d_of_the_same_step(tmp_path, update):
    def one_step(lr_d):
        cfg = tiny("train.steps=1", f"train.update={update}", f"train.lr_d={lr_d}", "train.optimizer=sgd",
                   "model.arch=mlp2014")
        return train(cfg, run_dir=tmp_path / f"lr{lr_d}", progress=False).generator.state_dict()

    slow, fast = one_step(1e-6), one_step(0.5)
    same = all(torch.equal(slow[k], fast[k]) for k in slow)
    # simultaneous: G's gradient is taken before D moves, so D's step size cannot matter;
    # alternating: G follows the D that just stepped
    assert same == (update == "simultaneous")


def test_toy_ring_draws_a_scatter_plot(tmp_path):
    cfg = load_config("toy_ring", ["train.steps=30", "train.sample_every=30", "data.n=2000", "train.batch_size=128"])
    train(cfg, run_dir=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "samples" / "step_0000030.png").stat().st_size > 1000


def test_conditional_needs_labels(tmp_path):
    from gankit.errors import ConfigError
    from PIL import Image
    Image.new("RGB", (10, 10)).save(tmp_path / "a.png")  # a flat folder: no labels
    cfg = load_config("quickstart", ["model.conditional=projection", "data.name=folder",
                                     f"data.path={tmp_path}"])
    with pytest.raises(ConfigError, match="needs a labeled dataset"):
        train(cfg, run_dir=tmp_path / "run", progress=False)


def test_fid_during_training_logs_and_keeps_the_best_generator(tmp_path):
    from gankit.sampling import load_generator
    from gankit.tracking import best_record
    cfg = tiny("train.steps=6", "train.eval_every=2", "train.eval_samples=100", "train.ckpt_every=6")
    train(cfg, run_dir=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    evals = [json.loads(l) for l in (run / "evals.jsonl").read_text().splitlines()]
    assert [r["step"] for r in evals] == [2, 4, 6]
    assert all(r["fid"] > 0 for r in evals)
    best = min(evals, key=lambda r: r["fid"])
    record = best_record(run)
    assert (record["step"], record["fid"]) == (best["step"], best["fid"])
    assert load_generator(run / "best").step == best["step"]
    assert (run / "fid_curve.png").is_file()


def test_fid_during_training_needs_a_backbone(tmp_path):
    from gankit.errors import ConfigError
    cfg = load_config("toy_ring", ["train.steps=2", "train.eval_every=1"])
    with pytest.raises(ConfigError, match="train.eval_every"):
        train(cfg, run_dir=tmp_path / "run", progress=False)
