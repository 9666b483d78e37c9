"""Train a GAN from a recipe: the GAN game (gankit.game) on the one loop (gankit.loop).

Usage from Python::

    from gankit.config import load_config
    from gankit.train import train
    result = train(load_config("dcgan_mnist", ["train.steps=500"]))
    result.generator  # the EMA generator when train.ema > 0

Resuming (``train(cfg, run_dir=RUN, resume=True)``) restores nets, optimizers and
EMA; data batches, noise and dropout are pure functions of (seed, rank, step), so a
resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from torch import nn

from gankit import distributed
from gankit.config import Config
from gankit.data import Dataset
from gankit.game import GANGame, SamplePictures
from gankit.loop import LoopSettings, Trainer
from gankit.runs import RunFolder, new_run_dir
from gankit.tracking import FIDTracker

__all__ = ["TrainResult", "train", "loop_settings"]


@dataclass
class TrainResult:
    run_dir: Path | None
    step: int
    generator: nn.Module = field(repr=False)      # the EMA generator when EMA is on
    discriminator: nn.Module = field(repr=False)
    interrupted: bool = False                     # stopped before the last step (Ctrl-C, SIGTERM)


def loop_settings(cfg: Config) -> LoopSettings:
    t = cfg.train
    return LoopSettings(steps=t.steps, log_every=t.log_every, ckpt_every=t.ckpt_every,
                        keep_ckpts=t.keep_ckpts, label="train", resume_command="gankit train --resume {run}",
                        compile=t.compile)


def train(cfg: Config, *, run_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
          callbacks: Sequence[Callable] = (), data: Dataset | None = None) -> TrainResult:
    """Train a GAN as ``cfg`` says; write everything to ``run_dir`` (a new folder by default).

    ``callbacks`` get (step, trainer) after every step. With ``train.eval_every`` a
    gankit.tracking.FIDTracker scores the generator as it trains and keeps the best one.
    ``data``: train on these images instead of the recipe's dataset (a resume must pass the same ones).
    """
    t = cfg.train
    info = distributed.setup(t.device, t.precision)
    run = None
    try:
        if resume and run_dir is None:
            raise ValueError("resume needs the run folder to continue")
        path = Path(run_dir) if run_dir else new_run_dir(t.out_dir, cfg.name)
        if info.is_main:
            RunFolder.check(path, resume)
        game = GANGame(cfg, info, data)   # data and nets first: a bad input leaves no run folder behind
        run = RunFolder(path, resume=resume, main=info.is_main)
        trainer = Trainer(game, run, loop_settings(cfg), info, resume)
        if info.is_main:
            run.write_config(cfg.to_dict())  # again on resume: overrides may extend the run
            if not resume:
                run.write_meta(t.seed, info.device, info.world_size)
            callbacks = [SamplePictures(game, run.path, t.sample_every), *callbacks]
        if t.eval_every:
            callbacks = [*callbacks, FIDTracker(game, run.path, trainer.step)]
        result = trainer.run(progress=progress, callbacks=callbacks)
    except BaseException:
        distributed.teardown(failed=True)  # peers may be stuck in a collective: no barrier
        raise
    finally:
        if run is not None:
            run.release()
    distributed.teardown()
    return TrainResult(run.path if info.is_main else None, result.step, game.sample_generator(), game.D,
                       result.interrupted)
