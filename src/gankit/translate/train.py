"""Train a CycleGAN from a recipe: the CycleGAN game on the one loop, scored while it trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gankit import distributed
from gankit.loop import LoopSettings, Trainer
from gankit.runs import RunFolder, new_run_dir
from gankit.translate.config import TranslateConfig
from gankit.translate.game import CycleGANGame
from gankit.translate.scores import SampleStrips, TranslationScores
from gankit.viz import read_metrics


@dataclass
class TranslationResult:
    run_dir: Path
    step: int
    interrupted: bool
    scores: dict          # the last row of RUN/scores.jsonl
    wall_seconds: float


def train_translation(cfg: TranslateConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                      progress: bool = True) -> TranslationResult:
    """Train ``cfg``'s CycleGAN into a run folder; score it every eval_every steps and at the end."""
    info = distributed.setup(cfg.device)
    path = Path(run_dir) if run_dir else new_run_dir(cfg.out_dir, cfg.name)
    RunFolder.check(path, resume)
    game = CycleGANGame(cfg, info)   # domains and nets first: a bad input leaves no run folder behind
    with RunFolder(path, resume=resume) as run:
        run.write_config(cfg.to_dict())
        if not resume:
            run.write_meta(cfg.seed, info.device)
        settings = LoopSettings(steps=game.total, log_every=50, ckpt_minutes=5.0, keep_ckpts=2, label="translate",
                                max_minutes=cfg.max_minutes, compile=cfg.compile,
                                resume_command="gankit translate train --resume {run}")
        trainer = Trainer(game, run, settings, info, resume)
        callbacks = [SampleStrips(game, run.path, cfg.sample_every), TranslationScores(game, run.path, trainer.step)]
        result = trainer.run(progress, callbacks)
    rows = read_metrics(run.path / "scores.jsonl")
    return TranslationResult(run.path, result.step, result.interrupted, rows[-1] if rows else {},
                             result.wall_seconds)
