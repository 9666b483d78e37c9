"""The captured step (gankit.capture), compiled on the CPU: it computes what the eager step computes,
resumes exactly, and falls back to eager (with a notice) where it cannot compile."""

import json

import pytest
import torch
from torch._dynamo.utils import counters

from gankit import capture
from gankit.checkpoint import list_checkpoints, restore_latest, save_checkpoint
from gankit.config import load_config
from gankit.train import train
from test_train import Crash, crash_at, weights

pytestmark = pytest.mark.skipif(capture.blocker(torch.device("cpu")) is not None,
                                reason="no C++ compiler for torch.compile on the CPU")

TINY = ["data.image_size=8", "model.g_width=16", "model.d_width=16", "model.z_dim=16",
        "train.batch_size=32", "train.log_every=1", "train.device=cpu", "train.precision=fp32"]
SGD_2014 = ("model.arch=mlp2014", "train.optimizer=sgd", "train.lr_g=0.05", "train.lr_d=0.05",
            "train.lr_schedule=exponential", "train.lr_decay=1.01", "train.momentum_final=0.7",
            "train.momentum_ramp_steps=10", "train.update=simultaneous")


def tiny(*overrides, compile=False):
    return load_config("quickstart", [*TINY, *overrides, f"train.compile={str(compile).lower()}"])


def losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return torch.tensor([[r["d_loss"], r["g_loss"]] for r in rows])


def assert_close_weights(a, b, **tolerance):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=lambda m, key=key: f"{key}: {m}", **tolerance)


@pytest.mark.parametrize("overrides", [
    ("train.ema=0.9", "train.ema_start=2"),          # DCGAN: BatchNorm, Adam, EMA
    ("model.conditional=ac", "train.n_dis=2"),       # AC-GAN: labels, two D steps per G step
    SGD_2014,                                         # MLP with dropout, SGD, decaying lr, momentum ramp
])
def test_the_captured_step_computes_what_the_eager_step_computes(tmp_path, capsys, overrides):
    eager = train(tiny("train.steps=8", *overrides), run_dir=tmp_path / "eager", progress=False)
    graphs = counters["stats"]["unique_graphs"]
    captured = train(tiny("train.steps=8", *overrides, compile=True), run_dir=tmp_path / "captured", progress=False)
    assert counters["stats"]["unique_graphs"] > graphs, "nothing was compiled"
    assert "runs eagerly" not in capsys.readouterr().err
    # the same random draws (dropout, noise) and the same arithmetic, to float rounding
    torch.testing.assert_close(losses(tmp_path / "captured"), losses(tmp_path / "eager"), rtol=1e-2, atol=1e-3)
    assert_close_weights(weights(captured), weights(eager), rtol=1e-2, atol=1e-3)


def test_a_captured_run_resumes_exactly(tmp_path):
    cfg = tiny("train.steps=10", "train.ckpt_every=4", "train.ema=0.9", compile=True)
    whole = train(cfg, run_dir=tmp_path / "whole", progress=False)
    with pytest.raises(Crash):
        train(cfg, run_dir=tmp_path / "killed", progress=False, callbacks=[crash_at(6)])
    resumed = train(cfg, run_dir=tmp_path / "killed", resume=True, progress=False)
    assert resumed.step == 10
    a, b = weights(whole), weights(resumed)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_an_eager_checkpoint_resumes_captured_and_back(tmp_path):
    eager = tiny("train.steps=10", "train.ckpt_every=4", *SGD_2014)
    whole = train(eager, run_dir=tmp_path / "whole", progress=False)
    with pytest.raises(Crash):
        train(eager, run_dir=tmp_path / "killed", progress=False, callbacks=[crash_at(5)])
    captured = tiny("train.steps=10", "train.ckpt_every=4", *SGD_2014, compile=True)
    with pytest.raises(Crash):   # captured from step 4 to 8, saved in the captured form
        train(captured, run_dir=tmp_path / "killed", resume=True, progress=False, callbacks=[crash_at(9)])
    resumed = train(eager, run_dir=tmp_path / "killed", resume=True, progress=False)
    assert_close_weights(weights(resumed), weights(whole), rtol=1e-3, atol=1e-4)


def test_a_checkpoint_holds_plain_numbers_and_the_built_optimizer_comes_back(tmp_path):
    net = torch.nn.Linear(3, 2)
    built = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    form = capture.optimizer_form(built)
    capture.prepare_optimizer(built, torch.device("cpu"), True, form)
    assert isinstance(built.param_groups[0]["lr"], torch.Tensor) and built.param_groups[0]["fused"] is False
    net(torch.randn(4, 3)).sum().backward()
    built.step()
    save_checkpoint(tmp_path, 1, modules={"net": net}, optimizers={"opt": built}, meta={}, keep=1)
    record = json.loads(list_checkpoints(tmp_path)[-1].with_suffix(".json").read_text())
    assert json.dumps(record)   # a learning rate in a tensor is saved as its value
    again = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    restore_latest(tmp_path, modules={"net": net}, optimizers={"opt": again})
    capture.prepare_optimizer(again, torch.device("cpu"), False, capture.optimizer_form(
        torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)))
    group = again.param_groups[0]
    assert group["fused"] is True and group["lr"] == pytest.approx(1e-3) and not isinstance(group["lr"], torch.Tensor)
    net(torch.randn(4, 3)).sum().backward()
    again.step()   # the fused kernel takes the state the captured form left


def test_a_phase_that_cannot_compile_runs_eagerly_with_a_notice(tmp_path, capsys):
    # WGAN-GP: the penalty's double backward fails inside compiled code under this torch; the D phase
    # falls back, the G phase stays captured, and the run trains what the eager run trains
    wgan = ("train.loss=wgan", "train.gp_weight=10", "model.d_norm=none")
    eager = train(tiny("train.steps=4", *wgan), run_dir=tmp_path / "eager", progress=False)
    captured = train(tiny("train.steps=4", *wgan, compile=True), run_dir=tmp_path / "captured", progress=False)
    err = capsys.readouterr().err
    assert "compile: the D phase runs eagerly" in err and "the G phase runs eagerly" not in err
    assert_close_weights(weights(captured), weights(eager), rtol=1e-2, atol=1e-3)


def test_without_a_compiler_the_step_runs_eagerly_and_says_why(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(capture.shutil, "which", lambda name: None)
    result = train(tiny("train.steps=2", compile=True), run_dir=tmp_path / "run", progress=False)
    assert result.step == 2
    assert "compile: the step runs eagerly (the CPU compiled path needs a C++ compiler" in capsys.readouterr().err
    assert "MPS" in capture.blocker(torch.device("mps"))


def same_training(make_game, steps: int, capsys) -> None:
    """A game's first ``steps`` steps, eager and captured, log the same numbers (to bf16 tolerance).

    Only the first steps: these games (Adam on near-zero gradients, DIP's early jumps) amplify
    float rounding step by step, as any change of kernels does.
    """
    from gankit.loop import LoopSettings, Trainer
    logged = []
    for compile in (False, True):
        trainer = Trainer(make_game(), None, LoopSettings(steps=steps, log_every=steps, compile=compile))
        graphs = counters["stats"]["unique_graphs"]
        logged.append([trainer.train_step() for _ in range(steps)])
        assert not compile or counters["stats"]["unique_graphs"] > graphs, "nothing was compiled"
    assert "runs eagerly" not in capsys.readouterr().err
    for step, (eager, captured) in enumerate(zip(*logged)):
        for key in eager:
            torch.testing.assert_close(captured[key], eager[key], rtol=1e-2, atol=1e-3,
                                       msg=lambda m, key=key, step=step: f"step {step}, {key}: {m}")


def test_the_cyclegan_game_is_captured_too(real_data_root, capsys):
    from gankit.distributed import DistInfo
    from gankit.translate import CycleGANGame, load_translate_config
    cfg = load_translate_config("cyclegan_paper", [
        "domain_a=digits", "domain_b=mnist", "image_size=16", "channels=1", "limit=200", "ngf=4", "ndf=4",
        "n_blocks=1", "n_layers=2", "batch_size=4", "epochs=1", "load_size=null", "flip=false",
        f"data_root={real_data_root}"])
    same_training(lambda: CycleGANGame(cfg, DistInfo()), 3, capsys)


def test_the_image_prior_game_is_captured_too(capsys):
    from gankit.restore import DIPGame, denoising, load_restore_config
    from gankit.restore.corrupt import add_noise
    from gankit.restore.photos import photo
    clean = photo("camera", 32)
    cfg = load_restore_config("cpu_denoise", ["channels_down=[4, 4, 4, 4, 4]", "channels_up=[4, 4, 4, 4, 4]",
                                              "channels_skip=[2, 2, 2, 2, 2]", "input_channels=4"])
    same_training(lambda: DIPGame(cfg, denoising(add_noise(clean, 25 / 255, seed=0), clean)), 2, capsys)
