"""Scoring a trained detector on held-out generators and perturbed images, with the baselines beside it.

    >>> report = evaluate_detector("runs/detect-dcgan", ["runs/wgangp-mnist", "runs/gan2014-mnist"])
    >>> report["results"]["CNN"]["jpeg 50"]["wgangp-mnist"]["ap"]

Evaluation discipline: real images come from the official test split (the detector trained on the
train split); generated ones from noise seed EVAL_NOISE_SEED (the detector trained on its own
noise_seed, never 0). Nothing is chosen on these images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from gankit.checkpoint import atomic_write_text, find_checkpoint
from gankit.config import from_dict
from gankit.detect.baselines import fit_baselines
from gankit.detect.config import DetectConfig
from gankit.detect.game import training_images
from gankit.detect.images import (EVAL_NOISE_SEED, folder_images, generated_images, is_image_folder, load_fake_source,
                                  real_images)
from gankit.detect.model import CNNScorer, load_detector
from gankit.detect.report import evaluate_scorers
from gankit.errors import ConfigError, GankitError

__all__ = ["CNN", "evaluate_detector", "source_name"]

CNN = "CNN"   # the detector's name in reports, beside the baselines'


def source_name(run: str | Path) -> str:
    """A generator's name in reports: its run folder's name."""
    path = Path(run)
    return path.parent.parent.name if path.suffix in (".json", ".safetensors") else path.name


def evaluate_detector(detector: str | Path, test_runs: Sequence[str | Path] = (), *, n: int = 2000,
                      baselines: bool = False, data_root: str | Path | None = None,
                      out: str | Path | None = None) -> dict:
    """AP and accuracy of the detector (and, with ``baselines``, of the spectrum and pixel baselines
    fitted on its training images) against ``n`` real test images and ``n`` samples of each generator
    it trained on and of each of ``test_runs``, clean and under every perturbation. A test source may
    also be a folder of images of the real data's size (at most ``n`` of them, a random subset).

    Writes report.json into the detector's run folder (or ``out``) and returns what it holds.
    """
    if n < 2:
        raise GankitError(f"-n must be at least 2 (real and generated images to rank), got {n}")
    json_path = find_checkpoint(detector)
    model, record = load_detector(json_path)
    try:
        cfg = from_dict(DetectConfig, record.get("config"))
    except ConfigError as exc:
        raise GankitError(f"{json_path}: bad config in the JSON: {exc}") from None
    if data_root is not None:
        cfg.data_root = str(data_root)
    trained_on = {source_name(r): str(r) for r in cfg.fake}
    sources = dict(trained_on)
    for run in test_runs:
        sources.setdefault(source_name(run), str(run))
    started = time.perf_counter()
    real = real_images(cfg.real, "test", n, 0, cfg.data_root)
    fakes = {}
    for name, run in sources.items():
        if is_image_folder(run):
            fakes[name] = folder_images(run, n, tuple(real.shape[1:]), EVAL_NOISE_SEED)
        else:
            fakes[name] = generated_images(load_fake_source(run), n, EVAL_NOISE_SEED)
        if fakes[name].shape[1:] != real.shape[1:]:
            raise GankitError(f"{run} makes images of shape {tuple(fakes[name].shape[1:])}, but the detector "
                              f"takes {cfg.real} images, {tuple(real.shape[1:])}")
    scorers = {CNN: CNNScorer(model)}
    if baselines:
        x, y = training_images(cfg)
        scorers.update(fit_baselines(x, y, cfg.augment.kwargs(), cfg.seed))
    report = {"detector": str(json_path), "step": record["step"], "real": cfg.real, "n": n,
              "images": {name: len(images) for name, images in fakes.items()},
              "eval_noise_seed": EVAL_NOISE_SEED, "trained_on": sorted(trained_on),
              "sources": sources, "results": evaluate_scorers(scorers, real, fakes),
              "seconds": round(time.perf_counter() - started, 1)}
    target = Path(out) if out is not None else json_path.parent.parent / "report.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, json.dumps(report, indent=1) + "\n")
    return report
