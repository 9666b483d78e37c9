"""Evaluate a trained generator against real data it never saw, with a floor beside every number.

    from gankit.evaluate import evaluate
    m = evaluate("runs/dcgan_mnist-20261124-101500", n=10_000, data_root="../shared/data")
    m["quality"]["generated"]["fid"], m["quality"]["floor"]["fid"]

``evaluate`` draws ``n`` samples (fixed seed; conditional generators cycle through
the classes), measures them with whatever suits the data, writes RUN/metrics.json
and renders RUN/report.html (gankit.report).

The floor of a metric is its value when a generator is replaced by real data: a
random subset of the training set, the same size as the samples, scored against the
test set exactly as the samples are. FID between two finite real samples is not 0;
the floor is about the best a generator can score with this many samples, so read
every number against it.

What is measured:

* images with a feature backbone (gankit.metrics.backbones): FID, KID,
  precision/recall, density/coverage, classifier score and class histogram on
  backbone features, the real TEST split as reference. CIFAR-10 uses the FID
  Inception-v3 (gankit.metrics.inception) when its weights file is found, and says
  where it looked when not.
* images: memorization. Nearest-training-neighbour distances in pixel space against
  those of held-out test images, the Meehan et al. 2020 copying test (on backbone
  features when there is a backbone, else on pixels), a nearest-neighbour grid.
* MNIST and Fashion-MNIST (n >= 1000, or ``parzen=True``): the Parzen-window
  log-likelihood of Goodfellow et al. 2014.
* toy 2-D mixtures: mode coverage and a scatter plot.

What cannot be computed is listed under "skipped" with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from rich.console import Console

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.data import Dataset, load_dataset, toy_modes, toy_std
from gankit.distributed import pick_device
from gankit.errors import GankitError
from gankit.metrics import (data_copying_test, fit_cells, mode_coverage, nearest_neighbour_grid, nn_distance_comparison,
                            parzen_evaluate, quality_report)
from gankit.metrics.backbones import BACKBONES, NATURAL_IMAGES, WEIGHTS_DIR, extract, load_backbone
from gankit.report import render_report
from gankit.sampling import LoadedGenerator, class_labels, load_generator
from gankit.game import load_training_data
from gankit.viz import save_image_grid, save_scatter

__all__ = ["evaluate", "run_folder", "MIN_SAMPLES"]

MIN_SAMPLES = 50
MNIST_FAMILY = ("mnist", "fashion-mnist")
PARZEN_VALIDATION = range(50_000, 51_000)  # the 2014 script's validation: MNIST train images 50,000..50,999
PARZEN_DEFAULT_MIN_N = 1000
BATCH = 1000        # images per generator / backbone call
NN_GRID_ROWS, NN_GRID_K = 8, 5
MODE_THRESHOLD_STD = 3.0  # a sample is on a mode within 3 std of its centre (VEEGAN, PacGAN)


class _Status:
    """A spinner with the current stage on stderr, then one line with its time; silent when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.console = Console(stderr=True)

    @contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        start = time.perf_counter()
        with self.console.status(f"{what} ..."):
            yield
        self.console.print(f"[green]done[/] {what} [dim]({time.perf_counter() - start:.1f} s)")


def run_folder(checkpoint_json: Path) -> Path:
    """The run folder of a checkpoint (RUN/checkpoints/ or RUN/best/ckpt-*.json -> RUN), else its folder."""
    folder = Path(checkpoint_json).parent
    return folder.parent if folder.name in ("checkpoints", "best") else folder


def _unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [-1, 1]; floats pass through."""
    return x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()


def _jsonable(x: Any) -> Any:
    """Plain JSON: tensors to lists, tuples to lists, NaN and infinity to None, keys to strings."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@torch.no_grad()
def generate(gen: LoadedGenerator, n: int, seed: int) -> torch.Tensor:
    """n samples on the CPU from noise seeded with ``seed`` (labels cycle through the classes)."""
    g = torch.Generator().manual_seed(seed)
    z = gen.noise(n, g)
    y = class_labels(gen, n, None)
    out = [gen(z[i:i + BATCH], None if y is None else y[i:i + BATCH]).float().cpu() for i in range(0, n, BATCH)]
    x = torch.cat(out)
    return x.clamp(-1, 1) if x.dim() == 4 else x


def class_accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose most probable class is their label."""
    return (probs.argmax(1).cpu() == labels.cpu()).float().mean().item()


def _subset_rows(total: int, size: int, seed: int, exclude: range | None) -> torch.Tensor:
    """A seeded random choice of ``size`` rows of ``total`` (fewer if not enough), avoiding ``exclude``."""
    rows = torch.arange(total)
    if exclude is not None:
        rows = rows[(rows < exclude.start) | (rows >= exclude.stop)]
    g = torch.Generator().manual_seed(seed)
    return rows[torch.randperm(len(rows), generator=g)[:size]].sort().values


def _copying(train, heldout, generated, n_cells: int, seed: int, cells) -> dict:
    try:
        r = data_copying_test(train, heldout, generated, n_cells=n_cells, seed=seed, cells=cells)
    except ValueError as exc:
        return {"skipped": str(exc)}
    return {"z_u": r.z_u, "cells_used": len(r.cells_used), "n_cells": n_cells, "tau": r.tau,
            "n_generated": len(generated), "n_heldout": len(heldout)}


class _Evaluation:
    """One evaluation: the generator, its samples, the real splits, and the result being filled in."""

    def __init__(self, path, n: int, data_root, seed: int, device: str, status: _Status,
                 inception: str | Path | None = None):
        self.n, self.seed, self.device, self.status = n, seed, pick_device(str(device)), status
        self.inception = inception
        with status("loading the generator and the real data"):
            self.gen = load_generator(path, device=self.device)
            cfg = self.gen.config
            root = str(data_root) if data_root is not None else cfg.data.root
            self.cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root=root))
            self.name = self.cfg.data.name
            self.train = load_training_data(self.cfg, torch.device("cpu"))  # exactly what G was trained on
            self.test = self._load_test()
        self.run_dir = run_folder(self.gen.checkpoint)
        self.eval_dir = self.run_dir / "eval"
        with status(f"drawing {n} samples"):
            self.samples = generate(self.gen, n, seed)
        self.is_image = self.samples.dim() == 4
        self.skipped: dict[str, str] = {}
        self.figures: dict[str, str] = {}
        self.feats: dict[str, torch.Tensor] | None = None  # backbone features, once quality() ran
        self._full: Dataset | None = None
        self.splits = {"train": len(self.train), "test": None if self.test is None else len(self.test)}

    def _load_test(self) -> Dataset | None:
        d = self.cfg.data
        if d.name == "folder":
            return None  # an image folder has no test split
        n = None if self.train.is_image else self.n  # toys: as many real points as samples
        return load_dataset(d.name, root=d.root, split="test", image_size=d.image_size, channels=d.channels,
                            n=n, seed=self.cfg.train.seed)

    # --- toy 2-D mixtures ------------------------------------------------------------

    def toys(self) -> dict:
        for key in ("quality", "memorization", "parzen"):
            self.skipped[key] = "2-D points, not images: mode coverage is the measure for toy mixtures"
        return {"modes": self.modes()}

    def modes(self) -> dict:
        modes, std = toy_modes(self.name), toy_std(self.name)
        real = self.test.x
        gen_cov = mode_coverage(self.samples, modes, std, threshold=MODE_THRESHOLD_STD)
        floor = mode_coverage(real, modes, std, threshold=MODE_THRESHOLD_STD)
        path = self.eval_dir / "scatter.png"
        save_scatter(self.samples, path, reference=real[:2000],
                     title=f"{self.name}, step {self.gen.step}: {gen_cov.modes_hit}/{gen_cov.num_modes} modes")
        self.figures["scatter"] = "eval/scatter.png"
        return {"reference": f"{len(real)} points of the test mixture", "threshold_std": MODE_THRESHOLD_STD,
                "generated": gen_cov.as_dict(), "floor": floor.as_dict()}

    # --- images ----------------------------------------------------------------------

    def images(self, parzen: bool | None) -> dict:
        out: dict[str, Any] = {}
        if parzen is None:
            parzen = self.name in MNIST_FAMILY and self.n >= PARZEN_DEFAULT_MIN_N
            if not parzen:
                self.skipped["parzen"] = (f"off: by default only for MNIST and Fashion-MNIST with n >= "
                                          f"{PARZEN_DEFAULT_MIN_N} (force it with parzen=True / --parzen)")
        elif not parzen:
            self.skipped["parzen"] = "turned off (parzen=False / --no-parzen)"
        if self.test is None:
            self.skipped["quality"] = "needs a test split as reference; an image folder has none"
            if parzen:
                self.skipped["parzen"] = "needs a test split; an image folder has none"
            parzen = False
        subset = self.train_subset(parzen)
        self.splits["train_subset"] = len(subset)
        found = self.backbone() if self.test is not None else None
        if found is not None:
            model, out["backbone"] = found
            out["quality"] = self.quality(model, subset)
        out["memorization"] = self.memorization(subset)
        if parzen:
            out["parzen"] = self.parzen(subset)
        return out

    def train_subset(self, parzen_on: bool) -> torch.Tensor:
        """Rows of the training set standing in for a generator (the floor); the same count as the samples.

        When Parzen runs, its validation images are left out (else they would sit among the
        "samples" and pull sigma down); this needs training-set rows to be full-train rows,
        which holds unless data.n drew a random subset.
        """
        exclude = self.parzen_rows() if parzen_on and self.cfg.data.n is None else None
        return _subset_rows(len(self.train), self.n, self.seed, exclude)

    def features(self, model, images: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features and probabilities (extract resizes to the backbone's input), in batches."""
        feats, probs = [], []
        with self.status(f"backbone features of {len(images)} {what}"):
            for i in range(0, len(images), BATCH):
                f, p = extract(model, _unit(images[i:i + BATCH]).to(self.device))
                feats.append(f.float())
                probs.append(p.float())
        return torch.cat(feats), torch.cat(probs)

    def backbone(self) -> tuple[Any, dict] | None:
        """The domain classifier for this dataset and what to record about it; None (reason in skipped)."""
        channels = self.samples.shape[1]
        if self.name in NATURAL_IMAGES:
            from gankit.metrics.inception import load_inception
            try:
                model = load_inception(self.inception, self.device, data_root=self.cfg.data.root)
            except GankitError as exc:  # names the paths tried and where to download the file
                self.skipped["quality"] = str(exc)
                return None
            return model, {"name": "inception-v3-fid", "test_accuracy": None, "input_size": model.image_size,
                           "resized_from": self.samples.shape[-1]}
        if self.name not in BACKBONES:
            self.skipped["quality"] = (f"no feature backbone for {self.name!r} (backbones ship for: "
                                       f"{', '.join(BACKBONES) or 'none'}); FID, KID, precision/recall, "
                                       f"density/coverage and the classifier score need one")
            return None
        model = load_backbone(self.name)
        want = getattr(model, "in_channels", channels)
        if want != channels:
            self.skipped["quality"] = (f"the {self.name} backbone reads {want}-channel images; "
                                       f"this run makes {channels}-channel ones")
            return None
        model = model.to(self.device)
        info = {"name": self.name, "test_accuracy": None, "input_size": getattr(model, "image_size", None),
                "resized_from": self.samples.shape[-1]
                if getattr(model, "image_size", self.samples.shape[-1]) != self.samples.shape[-1] else None}
        record = Path(WEIGHTS_DIR) / f"{self.name}.json"  # the accuracy recorded when it was trained
        if record.is_file():
            info["test_accuracy"] = json.loads(record.read_text()).get("test_accuracy")
        return model, info

    def quality(self, model, subset: torch.Tensor) -> dict:
        """Quality metrics and their floor; keeps the features for the copying test in ``self.feats``."""
        gen_f, gen_p = self.features(model, self.samples, "generated samples")
        test_f, test_p = self.features(model, self.test.x, "test images")
        train_f, train_p = self.features(model, self.train.x, "training images")
        self.feats = {"generated": gen_f.cpu(), "test": test_f.cpu(), "train": train_f.cpu()}
        k = gen_p.shape[1]
        with self.status("quality metrics (FID, KID, precision/recall, density/coverage)"):
            generated = quality_report(test_f, gen_f, fake_probs=gen_p, num_classes=k, seed=self.seed)
            floor = quality_report(test_f, train_f[subset], fake_probs=train_p[subset], num_classes=k,
                                   seed=self.seed)
        generated, floor = generated.to_dict(), floor.to_dict()
        if self.gen.num_classes == k and self.test.y is not None:
            # A conditional generator is asked for class i % K (see generate); the floor is the
            # backbone naming real test images right.
            asked = class_labels(self.gen, len(self.samples), None).cpu()
            generated["class_accuracy"] = class_accuracy(gen_p, asked)
            floor["class_accuracy"] = class_accuracy(test_p, self.test.y)
        return {"reference": f"test split ({len(test_f)} images)",
                "floor_samples": f"random training subset ({len(subset)} images, seed {self.seed})",
                "generated": generated, "floor": floor}

    def memorization(self, subset: torch.Tensor) -> dict:
        """Distances to the training set: generated vs held-out real images (floor) vs training images."""
        train_px = _unit(self.train.x).to(self.device)
        samples = self.samples.to(self.device)
        out: dict[str, Any] = {}
        with self.status(f"nearest-neighbour grid ({NN_GRID_ROWS} samples x {NN_GRID_K} training images)"):
            rows = min(NN_GRID_ROWS, self.n)
            grid = nearest_neighbour_grid(samples[:rows], train_px, n=rows, k=NN_GRID_K)
            save_image_grid(grid, self.eval_dir / "nn_grid.png", nrow=NN_GRID_K + 1)
            self.figures["nn_grid"] = "eval/nn_grid.png"
        if self.test is None:
            self.skipped["memorization"] = ("no held-out real images (an image folder has no test split): "
                                            "nothing to compare the distances with; see the nearest-neighbour grid")
            return out
        test_px = _unit(self.test.x).to(self.device)
        # The floor: a random half of the test set "generates", the other half is held out (random:
        # MNIST's test file puts its 5,000 cleaner images first).
        half = len(test_px) // 2
        perm = torch.randperm(len(test_px), generator=torch.Generator().manual_seed(self.seed))
        a, b = perm[:half], perm[half:]
        with self.status("nearest-training-neighbour distances (pixels)"):
            out["nn_distance"] = {
                "space": "pixels in [-1, 1], flattened, Euclidean",
                "generated": nn_distance_comparison(samples, train_px, test_px),
                "floor": nn_distance_comparison(test_px[a.to(self.device)], train_px, test_px[b.to(self.device)]),
                "floor_samples": f"{half} test images against the other {len(test_px) - half}",
            }
        if self.feats is not None:
            space, train_c, test_c, gen_c = ("backbone features", self.feats["train"], self.feats["test"],
                                             self.feats["generated"])
        else:
            space, train_c, test_c, gen_c = "pixels in [-1, 1], flattened", train_px.cpu(), test_px.cpu(), samples.cpu()
        n_cells = max(2, min(50, self.n // 50, len(test_c) // 10))
        with self.status(f"data-copying test ({space}, {n_cells} cells)"):
            cells = fit_cells(train_c, n_cells, self.seed)  # one partition for all three tests
            out["copying"] = {
                "space": space,
                "generated": _copying(train_c, test_c, gen_c, n_cells, self.seed, cells),
                "floor": _copying(train_c, test_c[b], test_c[a], n_cells, self.seed, cells),
                "copier": _copying(train_c, test_c, train_c[subset], n_cells, self.seed, cells),
                "floor_samples": f"{half} test images as samples, the other {len(test_c) - half} held out",
                "copier_samples": f"{len(subset)} training images as samples: what pure copying scores",
            }
        return out

    def parzen_rows(self) -> range:
        """Validation rows of the FULL training split: the 2014 slice for MNIST-like data, else its last fifth."""
        total = len(self._full_train())
        if self.name in MNIST_FAMILY and total >= PARZEN_VALIDATION.stop:
            return PARZEN_VALIDATION
        size = min(1000, total // 5)
        return range(total - size, total)

    def _full_train(self) -> Dataset:
        """The whole training split (the trained-on set unless data.limit or data.n cut it)."""
        d = self.cfg.data
        if d.n is None and d.limit is None:
            return self.train
        if self._full is None:
            self._full = load_dataset(d.name, root=d.root, split="train", image_size=d.image_size,
                                      channels=d.channels, path=d.path)
        return self._full

    def parzen(self, subset: torch.Tensor) -> dict:
        rows, d = self.parzen_rows(), self.cfg.data
        validation = self._full_train().x[rows.start:rows.stop].float().div(255).to(self.device)
        test = self.test.x.float().div(255).to(self.device)
        with self.status(f"Parzen window: sigma on {len(validation)} validation images, "
                         f"{len(test)} test images"):
            generated = parzen_evaluate((self.samples.to(self.device) + 1) / 2, validation, test)
            floor = parzen_evaluate(self.train.x[subset].float().div(255).to(self.device), validation, test)
        seen = d.n is None and (d.limit is None or d.limit > rows.start)
        notes = []
        if self.name in MNIST_FAMILY and rows == PARZEN_VALIDATION:
            notes.append("validation = training images 50,000..50,999, the 2014 paper's slice"
                         + (" (this run trained on them: they were seen in training)" if seen else
                            " (not trained on by this run)"))
        else:
            notes.append(f"validation = training images {rows.start}..{rows.stop - 1} "
                         f"({'seen' if seen else 'not seen'} in training)")
        if tuple(self.samples.shape[1:]) != (1, 28, 28):
            notes.append(f"images are {'x'.join(map(str, self.samples.shape[1:]))}, not 1x28x28: "
                         f"not comparable with the paper's 225 ± 2 on MNIST")
        return {"space": "pixels in [0, 1], flattened", "n_validation": len(validation), "n_test": len(test),
                "validation_rows": [rows.start, rows.stop], "notes": notes,
                "generated": dataclasses.asdict(generated), "floor": dataclasses.asdict(floor),
                "floor_samples": f"random training subset ({len(subset)} images, validation rows left out)"}


def evaluate(path: str | Path, *, n: int = 10_000, data_root: str | Path | None = None, seed: int = 0,
             device: str = "cpu", parzen: bool | None = None, progress: bool = True,
             inception: str | Path | None = None) -> dict:
    """Measure the generator of a run folder or checkpoint; write RUN/metrics.json and RUN/report.html.

    path: run folder or ckpt-*.json / .safetensors (the EMA generator when saved).
    n: samples to draw (10,000 is the published protocols' count; fewer is faster and
    noisier, and every floor uses the same count). data_root: where the real data is
    (default: the run's data.root, then $GANKIT_DATA). seed: noise seed, also the seed
    of the training subset used for floors. parzen: None = on for MNIST and
    Fashion-MNIST when n >= 1000; True / False force it. inception: the FID Inception-v3
    weights for CIFAR-10 runs (default: $GANKIT_INCEPTION, then DATA_ROOT/inception/; see
    docs/inception.md). Returns what metrics.json holds.
    """
    if n < MIN_SAMPLES:
        raise GankitError(f"-n must be at least {MIN_SAMPLES}: the metrics need that many samples, got {n}")
    start = time.perf_counter()
    ev = _Evaluation(path, n, data_root, seed, device, _Status(progress), inception)
    result: dict[str, Any] = {
        "gankit": __version__, "checkpoint": str(ev.gen.checkpoint), "run_dir": str(ev.run_dir),
        "step": ev.gen.step, "dataset": ev.name, "n": n, "seed": seed, "device": str(ev.device),
        "sample_shape": list(ev.samples.shape[1:]),
        "labels": f"cycling through {ev.gen.num_classes} classes" if ev.gen.num_classes else None,
        "backbone": None,
    }
    result.update(ev.images(parzen) if ev.is_image else ev.toys())
    result["splits"] = ev.splits
    result["skipped"] = ev.skipped
    result["figures"] = ev.figures
    result["elapsed_s"] = round(time.perf_counter() - start, 2)
    result = _jsonable(result)
    atomic_write_text(ev.run_dir / "metrics.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    render_report(ev.run_dir)
    return result
