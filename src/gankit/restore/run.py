"""``restore``: one Deep Image Prior fit from a Problem to the restored image, its strip and its record.

    >>> from gankit.restore import inpainting, load_restore_config, read_image, read_mask, restore
    >>> photo = read_image("photo.png")
    >>> problem = inpainting(photo, read_mask("mask.png", photo.shape[1:]))
    >>> result = restore(problem, load_restore_config("cpu_inpaint"), output="restored.png")

Writes OUTPUT (the restoration: the early-stopping rule's pick, else the last output),
OUTPUT_strip.png and OUTPUT.json (settings, iterations, PSNR per logged step, wall time,
hardware, the classical baselines when ``compare``). With ``run_dir`` the fit trains in a run
folder: checkpoints, Ctrl-C and ``resume`` (to the same weights as an uninterrupted fit).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

import gankit
from gankit import distributed
from gankit.checkpoint import atomic_write_text
from gankit.errors import ConfigError, GankitError
from gankit.loop import LoopSettings, Trainer
from gankit.restore.baselines import BASELINES, estimate_sigma, run_baseline
from gankit.restore.config import RestoreConfig
from gankit.restore.game import DIPGame, config_dict
from gankit.restore.metrics import psnr, ssim
from gankit.restore.pictures import Snapshots, picture_strip, snapshot_steps
from gankit.restore.problem import Problem
from gankit.runs import RunFolder, git_commit, machine_description
from gankit.viz import read_metrics

RECORD_FORMAT = 1
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")


@dataclass
class RestoreResult:
    image: Tensor | None            # (C, H, W) the restoration; None when the fit was stopped early
    record: dict
    finished: bool                  # False: stopped (Ctrl-C, SIGTERM) before its last step; resume it
    step: int
    paths: dict[str, Path] = field(default_factory=dict)   # output, strip, record


def output_paths(output: str | Path) -> dict[str, Path]:
    """OUTPUT, OUTPUT_strip.png and OUTPUT.json; a folder or an unknown suffix is refused."""
    output = Path(output)
    if output.is_dir():
        raise GankitError(f"-o {output}: is a folder; give a file name for the restored image, e.g. "
                          f"-o {output / 'restored.png'}")
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise GankitError(f"-o {output}: give an image file name ending in {', '.join(IMAGE_SUFFIXES)}")
    return {"output": output, "strip": output.with_name(output.stem + "_strip.png"),
            "record": output.with_suffix(".json")}


def device_info(cfg: RestoreConfig) -> distributed.DistInfo:
    device = distributed.pick_device(cfg.device)
    if cfg.precision == "bf16" and device.type != "cuda":
        raise ConfigError(f"precision: bf16 runs on CUDA only; this run is on {device.type} (use fp32)")
    return distributed.DistInfo(device=device, bf16=cfg.precision == "bf16")


def problem_digest(problem: Problem) -> str:
    """A fingerprint of what the net is fitted to (the observation and its weights), to match a resumed run."""
    h = hashlib.sha256()
    for t in (problem.observed, problem.weight):
        h.update(t.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def restore(problem: Problem, cfg: RestoreConfig, *, output: str | Path | None = None,
            run_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
            compare: bool = False, sigma: float | None = None, inputs: dict | None = None,
            callbacks: Sequence[Callable] = (), resume_command: str = "") -> RestoreResult:
    """Fit DIP to ``problem``; write the outputs when ``output`` is given (see the module docstring).

    ``sigma``: the noise std (in [0, 1] units) the denoising baselines need (default: estimated).
    ``inputs``: what the command read (file names), copied into the record."""
    cfg.check()
    paths = output_paths(output) if output is not None else {}
    info = device_info(cfg)
    if resume and run_dir is None:
        raise ConfigError("resume needs the run folder (run_dir=...)")
    if run_dir is not None:
        RunFolder.check(Path(run_dir), resume)
    game = DIPGame(cfg, problem, info)   # net and data first: a bad input leaves no run folder behind
    digest = problem_digest(problem)
    with RunFolder(run_dir, resume=resume) if run_dir is not None else contextlib.nullcontext() as run:
        if run is not None:
            _prepare_run(run, cfg, problem, digest, inputs, resume, info)
        settings = LoopSettings(steps=cfg.iterations, log_every=cfg.log_every,
                                ckpt_minutes=cfg.checkpoint_minutes if run is not None else None, keep_ckpts=2,
                                label=f"DIP {problem.task}", resume_command=resume_command, compile=cfg.compile)
        trainer = Trainer(game, run, settings, info, resume)
        if resume:
            game.load_history(read_metrics(run.path / "metrics.jsonl"))
        snapshots = Snapshots(game, snapshot_steps(cfg.iterations, cfg.snapshots),
                              run.path / "snapshots" if run is not None else None)
        result = trainer.run(progress, callbacks=[snapshots, *callbacks])
    record = make_record(game, problem, cfg, result.step, result.wall_seconds, info, inputs, digest)
    if result.interrupted:
        return RestoreResult(None, record, False, result.step)
    image, record["output"]["which"] = _chosen(game)
    if problem.reference is not None:
        record["output"].update(_scores(image, problem.reference))
    if compare:
        record["baselines"] = compare_baselines(problem, sigma)
    if paths:
        _write(paths, image, game, problem, snapshots, record)
    return RestoreResult(image, record, True, result.step, paths)


def _prepare_run(run: RunFolder, cfg: RestoreConfig, problem: Problem, digest: str, inputs: dict | None,
                 resume: bool, info: distributed.DistInfo) -> None:
    inputs_path = run.path / "inputs.json"
    if resume:
        before = json.loads(inputs_path.read_text()) if inputs_path.is_file() else {}
        if before.get("digest") not in (None, digest):
            raise GankitError(f"{run.path} was fitted to another photo, mask or scale (digest {before['digest']}, "
                              f"this one {digest}); resume with the inputs it started with")
    run.write_config(config_dict(cfg))
    if not resume:
        run.write_meta(cfg.seed, info.device, task=problem.task)
        atomic_write_text(inputs_path, json.dumps({"task": problem.task, "digest": digest, **(inputs or {})},
                                                  indent=1))


def _chosen(game: DIPGame) -> tuple[Tensor, str]:
    pick = game.early_stop_pick()
    if pick is not None:
        return pick, f"early-stopping pick (step {game.stopper.picked_step})"
    return game.restored(), "last output"


def _scores(image: Tensor, reference: Tensor) -> dict:
    return {"psnr": round(psnr(image, reference), 3), "ssim": round(ssim(image, reference), 4)}


def make_record(game: DIPGame, problem: Problem, cfg: RestoreConfig, step: int, wall: float,
                info: distributed.DistInfo, inputs: dict | None, digest: str) -> dict:
    stopper = game.stopper
    record = {
        "format": RECORD_FORMAT, "task": problem.task, "inputs": {**(inputs or {}), "digest": digest},
        "size": list(problem.size), "channels": problem.channels, "scale": problem.scale,
        "config": config_dict(cfg),
        "iterations": {"planned": cfg.iterations, "run": step,
                       "early_stop": {"rule": f"running variance, window {cfg.es_window}, patience {cfg.es_patience}",
                                      "mode": cfg.early_stop, "fired_at": stopper.fired_at if stopper.fired_at > 0
                                      else None, "picked_step": stopper.picked_step},
                       "backtracks": game.backtrack.count},
        "output": {},
        "log": [{k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()} for row in game.rows],
        "wall_seconds": round(wall, 2), "seconds_per_step": round(wall / max(step, 1), 4),
        "hardware": machine_description(info.device), "device": str(info.device),
        "precision": "bf16" if info.bf16 else "fp32", "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "gankit": gankit.__version__, "git_commit": git_commit(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if problem.reference is not None:
        record["final"] = {"step": step, **_scores(game.restored(), problem.reference)}
        if problem.scale == 1:
            record["corrupted"] = _scores(problem.given, problem.reference)
        if game.best is not None:
            record["best_along_run"] = {"psnr": round(game.best[0], 3), "step": game.best[1]}
    return record


def compare_baselines(problem: Problem, sigma: float | None = None) -> dict:
    """Every classical method of the task on the same input: PSNR and SSIM (with a reference) and seconds."""
    task, out = problem.task, {}
    extra: dict = {}
    if task == "inpaint":
        extra["mask"] = problem.mask
    elif task == "denoise":
        extra["sigma"] = sigma if sigma is not None else estimate_sigma(problem.given)
        out["sigma_used"] = round(extra["sigma"] * 255, 2)
        out["sigma_estimated"] = sigma is None
    else:
        extra["scale"] = problem.scale
    for name in BASELINES[task]:
        image, seconds = run_baseline(task, name, problem.given, **extra)
        entry = {"seconds": round(seconds, 3)}
        if problem.reference is not None:
            entry.update(_scores(image, problem.reference))
        out[name] = entry
    return out


def _write(paths: dict[str, Path], image: Tensor, game: DIPGame, problem: Problem, snapshots: Snapshots,
           record: dict) -> None:
    from gankit.restore.images import save_image
    ref = problem.reference

    def label(text: str, picture: Tensor) -> tuple[str, Tensor]:
        return (f"{text}\n{psnr(picture, ref):.2f} dB" if ref is not None else text), picture

    panels = [label("corrupted" if problem.scale == 1 else f"input x{problem.scale}", problem.shown())]
    panels += [label(f"step {s}", snapshots.pictures[s]) for s in sorted(snapshots.pictures)]
    panels.append(label(f"last, step {record['iterations']['run']}", game.restored()))
    if game.early_stop_pick() is not None:
        panels.append(label(f"ES pick, step {game.stopper.picked_step}", image))
    if ref is not None:
        panels.append(("reference", ref))
    save_image(image, paths["output"])
    picture_strip(panels, paths["strip"])
    record["output"]["path"] = str(paths["output"])
    record["output"]["strip"] = str(paths["strip"])
    atomic_write_text(paths["record"], json.dumps(record, indent=1))
