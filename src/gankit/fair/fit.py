"""Fit a fair predictor or representation, with its trade-off curve over the adversary's weight.

    from gankit.fair import FairConfig, fit, patient_table
    model = fit(patient_table("whas500"), "gender", FairConfig(criterion="odds"))
    model.evaluate(table)        # or model.record["test"]: the held-out rows, measured once after the fit

The table is split once (config.seed) into fitting, validation and held-out rows
(data.prepare). The curve trains one model per weight of ``config.curve`` in memory and
measures each on the validation and the held-out rows; with ``choose_weight`` the model's
weight is the most accurate one whose validation gap is within ``gap_target`` (the held-out
rows never choose anything). The model itself is then trained in a run folder, so Ctrl-C
saves it and ``resume`` continues it exactly.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gankit.errors import GankitError
from gankit.fair.config import FairConfig
from gankit.fair.data import FairData, prepare
from gankit.fair.games import FairGame, make_game
from gankit.fair.metrics import GAPS
from gankit.fair.model import FairModel
from gankit.loop import LoopSettings, Trainer
from gankit.privacy.schema import Table
from gankit.runs import RunFolder


class FitInterrupted(GankitError):
    """The fit was stopped (Ctrl-C, SIGTERM) before its last step: no model was made."""


def model_of(game: FairGame, data: FairData, record: dict | None = None) -> FairModel:
    return FairModel(game.config, data.features, game.net, game.adversary, sensitive=data.sensitive,
                     target=data.target, positive=data.positive, groups=data.groups, record=record)


def train_in_memory(data: FairData, config: FairConfig, label: str = "fit", progress: bool = False) -> FairModel:
    """One game to its last step without a run folder (a curve point, a benchmark seed)."""
    game = make_game(data, config)
    result = Trainer(game, None, LoopSettings(steps=config.steps, log_every=max(1, config.steps // 10),
                                              label=label)).run(progress=progress)
    if result.interrupted:
        raise FitInterrupted(f"stopped at step {result.step} of {config.steps} ({label}); nothing was written")
    return model_of(game, data)


def tradeoff(data: FairData, config: FairConfig, progress: bool = False) -> list[dict]:
    """One model per weight of ``config.curve``: its weight, validation and held-out measurements."""
    points = []
    for weight in config.curve_weights:
        model = train_in_memory(data, replace(config, adversary_weight=weight), f"curve, weight {weight:g}", progress)
        points.append({"weight": weight, "validation": model.evaluate(data.validation.table),
                       "test": model.evaluate(data.test.table)})
    return points


def choose_weight(points: list[dict], criterion: str, gap_target: float) -> float:
    """The most accurate weight whose validation gap is at most ``gap_target``; else the fairest one."""
    gap = GAPS[criterion]
    within = [p for p in points if p["validation"][gap] <= gap_target]
    if within:
        return max(within, key=lambda p: (p["validation"]["accuracy"], -p["validation"][gap]))["weight"]
    return min(points, key=lambda p: (p["validation"][gap], -p["validation"]["accuracy"]))["weight"]


def fit(table: Table, sensitive: str, config: FairConfig | None = None, *, positive: str | None = None,
        run_dir: str | Path | None = None, resume: bool = False, progress: bool = False,
        source: dict | None = None) -> FairModel:
    """Fit ``config.method`` on ``table`` (whose schema names the target) against group ``sensitive``.

    ``run_dir``: the run folder for the model's checkpoints and log (Ctrl-C saves; ``resume``
    continues exactly); None trains in memory. ``source``: where the table came from, kept in
    the model so its report can split it again.
    """
    config = config or FairConfig()
    config.check()
    if run_dir is not None:
        RunFolder.check(Path(run_dir), resume)   # before the work: a folder in the way is named at once
    where = (source or {}).get("csv") or (source or {}).get("table") or "table"
    data = prepare(table, sensitive, config, positive, str(where))
    curve = tradeoff(data, config, progress) if config.curve_weights else []
    weight = choose_weight(curve, config.criterion, config.gap_target) if config.choose_weight \
        else config.adversary_weight
    game = make_game(data, replace(config, adversary_weight=weight))   # data and nets before the run folder
    run = RunFolder(run_dir, resume=resume) if run_dir is not None else None
    try:
        if run is not None:
            run.write_config(config.to_dict())
            if not resume:
                run.write_meta(config.seed, "cpu", rows=len(table), sensitive=sensitive, target=data.target)
        settings = LoopSettings(steps=config.steps, log_every=50, ckpt_minutes=5.0 if run is not None else None,
                                keep_ckpts=2, label="fair fit", resume_command="gankit fair fit ... --resume {run}")
        result = Trainer(game, run, settings, resume=resume).run(progress=progress)
    finally:
        if run is not None:
            run.release()
    if result.interrupted:
        raise FitInterrupted(f"stopped at step {result.step} of {config.steps}; nothing was written to the model"
                             + (f"; resume with --resume {run.path}" if run is not None else ""))
    record = {"weight": weight, "curve": curve, "source": source or {}, "schema": table.schema.to_dict(),
              "rows": {"fit": len(data.fit), "validation": len(data.validation), "test": len(data.test)}}
    model = model_of(game, data, record)
    model.record["validation"] = model.evaluate(data.validation.table)
    model.record["test"] = model.evaluate(data.test.table)
    return model
