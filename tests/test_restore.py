"""Deep Image Prior (gankit.restore): the net, the early-stopping rule, averaging, backtracking, a short
fit that restores, and exact resume on the one loop."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.errors import ConfigError
from gankit.loop import LoopSettings, Trainer
from gankit.restore import (DIPGame, RunningVarianceStop, SkipHourglass, denoising, inpainting, load_restore_config,
                            psnr, super_resolution)
from gankit.restore.average import OutputAverage
from gankit.restore.corrupt import add_noise, make_mask
from gankit.restore.hourglass import net_input
from gankit.restore.photos import photo
from gankit.restore.pictures import Snapshots
from gankit.restore.resample import LanczosDownsampler

pytestmark = pytest.mark.usefixtures("one_thread")

# a net small enough for a test: the paper's shape, 8 channels
TINY = ["channels_down=[8, 8, 8, 8, 8]", "channels_up=[8, 8, 8, 8, 8]", "channels_skip=[4, 4, 4, 4, 4]",
        "input_channels=8", "es_window=10", "es_patience=40", "log_every=10", "backtrack_every=10"]


def smooth_picture(size: int = 32) -> torch.Tensor:
    """A smooth colour picture (gradients and a soft disk): what DIP fits first, so a short fit restores it."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    disk = torch.sigmoid(12 * (0.3 - ((x - 0.5) ** 2 + (y - 0.5) ** 2).sqrt()))
    return torch.stack([0.2 + 0.6 * x, 0.3 + 0.5 * disk, 0.8 - 0.6 * y]).clamp(0, 1)


def fit(game: DIPGame, steps: int, **kwargs) -> DIPGame:
    Trainer(game, None, LoopSettings(steps=steps, log_every=game.cfg.log_every)).run(progress=False, **kwargs)
    return game


# --- the pieces ----------------------------------------------------------------------

@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_the_hourglass_keeps_the_size_and_its_output_is_in_0_1(upsample):
    torch.manual_seed(0)
    net = SkipHourglass(8, 3, (8, 8, 8, 8, 8), (8, 8, 8, 8, 8), (4, 0, 4, 0, 4), upsample=upsample)
    z = net_input("noise", 8, 64, 96, torch.Generator().manual_seed(0))
    out = net(z)
    assert out.shape == (1, 3, 64, 96) and 0 <= out.min() and out.max() <= 1
    assert 0 <= z.min() and z.max() < 0.1   # the paper's input: uniform noise scaled by 1/10
    grid = net_input("meshgrid", 32, 64, 64, torch.Generator())
    assert grid.shape == (1, 2, 64, 64) and grid[0, 0, 0, -1] == 1 and grid[0, 1, -1, 0] == 1


def test_the_lanczos_downsampler_keeps_a_flat_picture_and_divides_the_size():
    for factor in (2, 3, 4, 8):
        flat = torch.full((1, 3, 16 * factor, 8 * factor), 0.7)
        out = LanczosDownsampler(factor, 3)(flat)
        assert out.shape == (1, 3, 16, 8)
        torch.testing.assert_close(out, torch.full_like(out, 0.7))


def test_the_running_variance_rule_stops_on_a_synthetic_curve():
    """Outputs that settle towards a picture until step 300, then drift off as if fitting noise:
    the variance of the last W outputs is least near step 300, the rule stops P steps after its minimum."""
    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 8, 8, generator=g)
    rule = RunningVarianceStop(window=20, patience=100)
    stopped = None
    for t in range(1, 2001):
        spread = 0.5 * math.exp(-t / 60) + 0.002 + 0.0005 * max(0, t - 300)
        x = target + spread * torch.randn(3, 8, 8, generator=g)
        rule.update(x, t)
        if t % 10 == 0 and rule.fired(t):
            stopped = t
            break
    assert stopped is not None and 380 <= stopped <= 500
    assert 250 <= rule.picked_step <= 400 and stopped - rule.picked_step >= 100
    assert (rule.best - target).abs().max() < 0.1   # the pick is a settled output
    # a stream that keeps settling never fires
    calm = RunningVarianceStop(window=20, patience=100)
    for t in range(1, 1001):
        calm.update(target + 0.5 * math.exp(-t / 200) * torch.randn(3, 8, 8, generator=g), t)
    assert not calm.fired(1000)


def test_the_rule_freezes_its_pick_once_it_has_fired_and_its_state_round_trips():
    rule = RunningVarianceStop(window=3, patience=5)
    for t, v in enumerate([5.0, 1.0, 1.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0], start=1):
        rule.update(torch.tensor([v]), t)
    assert rule.fired(10) and rule.picked_step == 4
    rule.update(torch.tensor([64.0]), 11)
    rule.update(torch.tensor([64.0]), 12)
    rule.update(torch.tensor([64.0]), 13)   # variance 0: a new minimum, but the pick is frozen
    assert rule.picked_step == 4 and rule.fired_at == 10
    copy = RunningVarianceStop(window=3, patience=5)
    copy.load_state_dict(rule.state_dict())
    assert copy.picked_step == 4 and copy.fired_at == 10 and copy.count == 13


def test_the_output_average_is_exponential():
    avg = OutputAverage(0.9)
    avg.update(torch.zeros(1))
    out = avg.update(torch.ones(1))
    assert out.item() == pytest.approx(0.1)
    assert OutputAverage(0.0).update(torch.ones(1)).item() == 1   # 0: off


def test_backtracking_puts_back_the_last_good_weights_and_adam_moments():
    game = fit(DIPGame(load_restore_config("cpu_denoise", TINY), denoising(smooth_picture())), 12)
    bt = game.backtrack
    assert not bt.check(30.0)   # a check that passes saves the state
    good = {k: v.clone() for k, v in game.net.state_dict().items()}
    moments = [game.optimizer.state[p]["exp_avg"].clone() for p in bt.params]

    def collapse():
        with torch.no_grad():
            for p in bt.params:
                p.add_(1.0)
                game.optimizer.state[p]["exp_avg"].mul_(100)
    collapse()
    assert bt.check(20.0) and bt.count == 1   # 10 dB below the last check: back to it
    for k, v in game.net.state_dict().items():
        torch.testing.assert_close(v, good[k])
    for p, m in zip(bt.params, moments):
        torch.testing.assert_close(game.optimizer.state[p]["exp_avg"], m)
    collapse()
    assert not bt.check(27.0) and bt.count == 1   # 3 dB: within the paper's 5 dB, saved as the new state
    assert bt.saved_fit == 27.0


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="average: must be in"):
        load_restore_config("dip_denoise", ["average=1.5"])
    with pytest.raises(ConfigError, match="unknown key 'iteration'"):
        load_restore_config("dip_denoise", ["iteration=5"])
    with pytest.raises(ConfigError, match="channels_down"):
        load_restore_config("dip_denoise", ["channels_down=[8, 8]"])
    with pytest.raises(ConfigError, match="kernel: must be odd"):
        load_restore_config(None, ["kernel=4"])
    for recipe in ("dip_inpaint", "dip_inpaint_pixels", "dip_denoise", "dip_superres", "cpu_inpaint",
                   "cpu_denoise", "cpu_superres"):
        assert load_restore_config(recipe).iterations >= 1000


# --- fits ------------------------------------------------------------------------------

def test_a_short_inpainting_fit_raises_psnr_over_the_corrupted_input():
    clean = photo("astronaut", 32)
    mask = make_mask("pixels50", 32, 32, seed=1)
    game = fit(DIPGame(load_restore_config("cpu_inpaint", TINY), inpainting(clean * mask, mask, clean)), 80)
    corrupted = psnr(clean * mask, clean)
    assert game.rows[-1]["psnr"] > corrupted + 5 and psnr(game.restored(), clean) > corrupted + 5
    assert game.best is not None and game.best[0] >= game.rows[-1]["psnr"]
    assert 0 < game.rows[-1]["ssim"] <= 1
    torch.testing.assert_close(game.restored() * mask, clean * mask)   # white = keep: kept pixels as they were
    raw = fit(DIPGame(load_restore_config("cpu_inpaint", TINY + ["keep_known=false"]),
                      inpainting(clean * mask, mask, clean)), 10)
    assert not torch.allclose(raw.restored() * mask, clean * mask)   # the paper's output: the net alone


def test_a_short_denoising_fit_beats_the_noisy_input():
    clean = smooth_picture()
    noisy = add_noise(clean, 25 / 255, seed=3)
    # a short fit: averaging over fewer steps than the paper's 0.99, and no early stop
    game = fit(DIPGame(load_restore_config("cpu_denoise", TINY + ["average=0.9", "early_stop=none"]),
                       denoising(noisy, clean)), 150)
    assert psnr(game.restored(), clean) > psnr(noisy, clean) + 2


def test_snapshots_of_an_averaged_output_keep_each_step():
    """The average is updated in place: a snapshot must copy it, or every panel of a strip shows the last step."""
    noisy = add_noise(smooth_picture(), 25 / 255, seed=3)
    game = DIPGame(load_restore_config("cpu_denoise", TINY + ["early_stop=none"]), denoising(noisy))
    snapshots = Snapshots(game, [5, 30], None)
    fit(game, 30, callbacks=[snapshots])
    early, last = snapshots.pictures[5], snapshots.pictures[30]
    assert not torch.equal(early, last)
    torch.testing.assert_close(last, game.restored())


def test_super_resolution_fits_through_the_downsampler_on_a_padded_canvas():
    small = smooth_picture(20)   # 20 x 4 = 80 px: the canvas is mirrored out to 96
    problem = super_resolution(small, 4)
    assert problem.canvas == (96, 96) and problem.size == (80, 80)
    game = fit(DIPGame(load_restore_config("cpu_superres", TINY), problem), 30)
    assert game.restored().shape == (3, 80, 80)
    assert game.rows[-1]["fit_psnr"] > game.rows[0]["fit_psnr"]


def test_a_stopped_fit_resumes_to_the_same_weights(stop_and_resume):
    """Ctrl-C (a callback raising) at step 23, resume from the checkpoint at 20: the same weights, the same
    average, early-stopping state and backtracking state as an uninterrupted fit."""
    clean = photo("camera", 32)
    noisy = add_noise(clean, 25 / 255, seed=0)
    cfg = load_restore_config("cpu_denoise", TINY + ["backtrack_every=7"])
    whole, resumed, start = stop_and_resume(lambda: DIPGame(cfg, denoising(noisy, clean)),
                                            LoopSettings(steps=40, log_every=10, ckpt_every=10), stop_at=23)
    assert start == 20
    for (k, a), b in zip(whole.net.state_dict().items(), resumed.net.state_dict().values()):
        assert torch.equal(a, b), k
    assert torch.equal(whole.average.value, resumed.average.value)
    assert torch.equal(whole.stopper.buffer, resumed.stopper.buffer)
    assert whole.stopper.picked_step == resumed.stopper.picked_step
    assert whole.backtrack.saved_fit == resumed.backtrack.saved_fit
