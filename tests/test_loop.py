"""The one training loop and its shared plumbing: samplers, schedules, EMA, run folders, and exact resume."""

import json

import pytest
import torch
from torch import nn

from gankit import distributed
from gankit.config import load_config
from gankit.data.augment import random_shift
from gankit.errors import GankitError, TrainingDiverged
from gankit.game import lr_schedule, momentum_schedule
from gankit.loop import (EMA, BatchSampler, Game, LoopSettings, Phase, Player, Trainer, cosine, linear_decay)
from gankit.runs import RunFolder


# --- batch order ---------------------------------------------------------------------

def test_drop_last_epochs_cover_the_data_once_and_ranks_split_each_batch():
    samplers = [BatchSampler(100, 20, seed=3, rank=r, world_size=2) for r in (0, 1)]
    epoch = torch.cat([s(t) for t in range(5) for s in samplers])
    assert sorted(epoch.tolist()) == list(range(100))
    assert not torch.equal(samplers[0](5), samplers[0](0))  # the next epoch reshuffles
    assert len(BatchSampler(105, 20, seed=3)(4)) == 20 and BatchSampler(105, 20).per_epoch == 5


def test_partial_epochs_keep_a_short_last_batch():
    s = BatchSampler(45, 20, seed=1, last="partial")
    assert s.per_epoch == 3 and [len(s(t)) for t in range(4)] == [20, 20, 5, 20]
    assert sorted(torch.cat([s(t) for t in range(3)]).tolist()) == list(range(45))


def test_wrapping_streams_cover_each_permutation_once_and_are_independent():
    s1, s2 = BatchSampler(30, 7, seed=0, stream=1, last="wrap"), BatchSampler(30, 7, seed=0, stream=2, last="wrap")
    first = torch.cat([s1(t) for t in range(30)])  # 210 indices = 7 whole permutations
    assert torch.equal(torch.bincount(first, minlength=30), torch.full((30,), 7))
    assert not torch.equal(s1(0), s2(0))
    assert torch.equal(s1(5), BatchSampler(30, 7, seed=0, stream=1, last="wrap")(5))  # a function of t
    assert len(BatchSampler(5, 12, last="wrap")(0)) == 12  # a batch larger than the data wraps


def test_bad_batch_sizes_are_named():
    with pytest.raises(GankitError, match="larger than the dataset"):
        BatchSampler(10, 20)
    with pytest.raises(GankitError, match="not divisible by the 3 processes"):
        BatchSampler(100, 20, world_size=3)


# --- augmentation, schedules, averages -----------------------------------------------

def test_random_shift_moves_each_image_by_at_most_max_shift_pixels():
    torch.manual_seed(0)
    x = torch.zeros(100, 1, 9, 9)
    x[..., 4, 4] = 1.0                                        # one lit pixel at the centre of each image
    moved = random_shift(x, 2)[:, 0]
    assert moved.sum().item() == 100                          # nothing lost: the pixel stays inside
    ys, xs = moved.nonzero()[:, 1], moved.nonzero()[:, 2]
    assert ((ys - 4).abs() <= 2).all() and ((xs - 4).abs() <= 2).all()
    assert len(set(zip(ys.tolist(), xs.tolist()))) == 25       # every one of the 5x5 moves is drawn
    assert random_shift(torch.ones(50, 1, 9, 9), 3).min() == 0  # what moves in from outside is the fill
    assert random_shift(torch.ones(50, 1, 9, 9), 3, fill=-1.0).min() == -1
    assert random_shift(x, 0) is x                             # 0: untouched
    g = [torch.Generator().manual_seed(5) for _ in range(2)]
    assert torch.equal(random_shift(x, 2, generator=g[0]), random_shift(x, 2, generator=g[1]))


def test_schedules():
    t = load_config("gan2014_mnist").train
    lr, momentum = lr_schedule(t), momentum_schedule(t)
    assert lr(0.1, 0) == 0.1
    assert lr(0.1, 1000) == pytest.approx(0.1 / 1.000004 ** 1000)
    assert lr(0.1, 10**8) == t.lr_min
    assert momentum(0) == 0.5 and momentum(62500) == pytest.approx(0.6) and momentum(10**6) == pytest.approx(0.7)
    assert momentum_schedule(load_config("dcgan_mnist").train) is None  # Adam: no momentum to set
    decay = linear_decay(100, start=0.5)
    assert decay(1.0, 10) == 1.0 and decay(1.0, 75) == pytest.approx(0.5) and decay(1.0, 100) == 0.0
    warm = cosine(100, warmup=10)
    assert warm(1.0, 0) == pytest.approx(0.1) and warm(1.0, 10) == 1.0 and warm(1.0, 100) == pytest.approx(0)
    assert cosine(100)(2.0, 50) == pytest.approx(1.0)


def test_ema_copies_until_its_start_then_averages():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5, start=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=1)
    assert ema.model.weight.item() == 1.0  # before the start: a copy
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model, step=2)
    assert ema.model.weight.item() == 2.0 and not ema.model.weight.requires_grad


def test_ema_with_warm_up_is_the_polyak_average():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5, warmup=True)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # warm-up decay min(0.5, 1/10) = 0.1
    assert ema.model.weight.item() == pytest.approx(0.9)
    ema.update(model, step=100)  # full decay 0.5
    assert ema.model.weight.item() == pytest.approx(0.95)


# --- the loop itself, on a toy game ---------------------------------------------------

class Tug(Game):
    """Two scalars pulled toward each other, with noise: enough to check the loop's mechanics."""

    def __init__(self, seed: int = 0, simultaneous: bool = False, poison_at: int | None = None):
        torch.manual_seed(seed)
        self.a, self.b = nn.Linear(1, 1), nn.Linear(1, 1)
        pa = Player("A", self.a, torch.optim.Adam(self.a.parameters(), lr=0.1), 0.1)
        pb = Player("B", self.b, torch.optim.SGD(self.b.parameters(), lr=0.05), 0.05)
        self.phases = [Phase("both", (pa, pb))] if simultaneous else [Phase("A", (pa,), repeats=2), Phase("B", (pb,))]
        self.poison_at, self.seen_frozen = poison_at, []

    def modules(self):
        return {"a": self.a, "b": self.b}

    def loss(self, phase, step, repeat):
        x = torch.randn(8, 1)   # torch's stream, carried across steps (the loop checkpoints it)
        gap = (self.a(x) - self.b(x)).pow(2).mean()
        self.seen_frozen.append((phase.name, [p.requires_grad for p in self.b.parameters()]))
        if step == self.poison_at:
            gap = gap * float("nan")
        if phase.name == "both":
            return {"A": gap, "B": -gap}, {"gap": gap.detach()}
        return (gap if phase.name == "A" else -gap), {"gap": gap.detach()}


def settings(steps=10, **kw):
    return LoopSettings(steps=steps, log_every=3, ckpt_every=4, **kw)


def test_the_loop_freezes_the_other_players_and_logs_each_step(tmp_path):
    game = Tug()
    with RunFolder(tmp_path / "run") as run:
        result = Trainer(game, run, settings()).run(progress=False)
    assert result.step == 10 and not result.interrupted
    assert ("A", [False, False]) in game.seen_frozen and ("B", [True, True]) in game.seen_frozen
    assert all(p.requires_grad for p in game.b.parameters())   # unfrozen afterwards
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert {"a_loss", "a_grad_norm", "b_loss", "b_grad_norm", "gap"} <= set(rows[0])


def test_a_killed_toy_run_resumes_to_the_same_weights(tmp_path):
    for simultaneous in (False, True):
        whole = Tug(simultaneous=simultaneous)
        with RunFolder(tmp_path / f"whole{simultaneous}") as run:
            Trainer(whole, run, settings()).run(progress=False)

        def crash(step, trainer):
            if step == 6:
                raise KeyboardInterrupt
        with RunFolder(tmp_path / f"split{simultaneous}") as run, pytest.raises(KeyboardInterrupt):
            Trainer(Tug(simultaneous=simultaneous), run, settings()).run(progress=False, callbacks=[crash])
        resumed = Tug(simultaneous=simultaneous)
        with RunFolder(tmp_path / f"split{simultaneous}", resume=True) as run:
            trainer = Trainer(resumed, run, settings(), resume=True)
            assert trainer.step == 4   # the checkpoint before the crash
            trainer.run(progress=False)
        for m, n in ((whole.a, resumed.a), (whole.b, resumed.b)):
            for p, q in zip(m.parameters(), n.parameters()):
                assert torch.equal(p, q)


def test_nan_stops_the_loop_and_names_the_last_good_checkpoint(tmp_path):
    with RunFolder(tmp_path / "run") as run, pytest.raises(TrainingDiverged, match="ckpt-0000004"):
        Trainer(Tug(poison_at=5), run, settings()).run(progress=False)


def test_a_time_budget_stops_and_saves(tmp_path):
    with RunFolder(tmp_path / "run") as run:
        result = Trainer(Tug(), run, settings(max_minutes=1e-9)).run(progress=False)
    assert result.interrupted and result.step == 1
    assert (tmp_path / "run" / "checkpoints" / "ckpt-0000001.json").is_file()


def test_a_game_may_end_its_run_early_as_a_finished_run(tmp_path):
    class Enough(Tug):
        def done(self, step):
            return step >= 5
    seen = []
    with RunFolder(tmp_path / "run") as run:
        result = Trainer(Enough(), run, settings()).run(progress=False,
                                                        callbacks=[lambda s, t: seen.append((s, t.ending))])
    assert result.step == 6 and not result.interrupted   # asked at the log interval after step 5
    assert seen[-1] == (6, True) and (tmp_path / "run" / "checkpoints" / "ckpt-0000006.json").is_file()


def test_ddp_needs_a_game_that_supports_it():
    with pytest.raises(GankitError, match="one process"):
        Trainer(Tug(), None, settings(), distributed.DistInfo(rank=0, world_size=2))


# --- run folders ---------------------------------------------------------------------

def test_a_run_folder_is_never_mixed_or_shared(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(GankitError, match="already holds a run; continue it with --resume"):
        RunFolder(tmp_path / "old")
    (tmp_path / "file").write_text("x")
    with pytest.raises(GankitError, match="is a file"):
        RunFolder(tmp_path / "file")
    with pytest.raises(GankitError, match="not a run folder"):
        RunFolder(tmp_path / "missing", resume=True)


def test_a_second_process_cannot_train_into_a_held_run_folder(tmp_path):
    import subprocess
    import sys
    with RunFolder(tmp_path / "run"):
        code = ("from gankit.runs import RunFolder\nfrom gankit.errors import GankitError\n"
                f"try:\n    RunFolder({str(tmp_path / 'run')!r}, resume=True)\nexcept GankitError as e:\n"
                "    print('refused:', e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert "refused:" in out.stdout and "in use by another gankit process" in out.stdout, out
    # released: the folder can be resumed again (a crashed process releases it too: the OS drops the lock)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused" not in out.stdout, out
