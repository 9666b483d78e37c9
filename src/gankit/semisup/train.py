"""Training the semi-supervised GAN (Salimans et al. 2016, arXiv 1606.03498) and its supervised baseline.

One step of ``method: ssgan`` (the paper's MNIST recipe):

1. D step on a labeled batch, an unlabeled batch and a generated batch (separate
   draws): cross-entropy on the labels + unlabeled_weight * the real/fake loss
   of losses.unlabeled_loss.
2. G step: feature matching on D's last hidden layer, against a second unlabeled batch.
3. Polyak average (EMA) of D's weights; the average is what is tested and saved.

``method: supervised`` trains the same D (same noise, init, optimizer, schedule
and EMA) on the labeled batches alone, for the same number of steps.

Every random draw is a function of (seed, step), so a run resumed from any
checkpoint continues exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit import __version__, checkpoint
from gankit.checkpoint import atomic_write_text
from gankit.errors import TrainingDiverged
from gankit.runs import MetricsLog, cpu_name, git_commit, stop_on_signal
from gankit.semisup import losses
from gankit.semisup.classifier import save_classifier, test_errors
from gankit.semisup.config import SemisupConfig
from gankit.semisup.data import SemisupData, load_semisup_data
from gankit.semisup.nets import Classifier, Generator, data_dependent_init, parse_widths
from gankit.semisup.progress import SemisupProgress


@dataclass
class SemisupResult:
    run_dir: Path
    test_errors: int | None      # of the EMA classifier on the official test set, after the last epoch
    test_size: int
    epochs: int
    wall_seconds: float
    classifier: nn.Module


class PolyakEMA:
    """EMA of D's weights with the warm-up decay min(decay, (1 + t) / (10 + t)).

    The warm-up keeps short runs from being dominated by the initial weights
    (gankit.train.EMA, made for long GAN runs, averages from step 0 at full decay).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        beta = min(self.decay, (1 + step) / (10 + step))
        for avg, p in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(p, 1 - beta)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


class IndexStream:
    """The t-th batch of an endless sequence of permutations of range(n), seeded by (seed, stream)."""

    def __init__(self, n: int, batch: int, seed: int, stream: int, device):
        self.n, self.batch, self.seed, self.stream, self.device = n, batch, seed, stream, device
        self._cache: dict[int, Tensor] = {}

    def _perm(self, j: int) -> Tensor:
        if j not in self._cache:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.stream) * 1_000_033 + j)
            self._cache = {j: torch.randperm(self.n, generator=g).to(self.device)}
        return self._cache[j]

    def __call__(self, t: int) -> Tensor:
        start, parts, need = t * self.batch, [], self.batch
        while need:
            j, pos = divmod(start, self.n)
            part = self._perm(j)[pos:pos + need]
            parts.append(part)
            need -= len(part)
            start += len(part)
        return torch.cat(parts)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"{cpu_name()}, {torch.get_num_threads()} torch thread(s)"


class SemisupTrainer:
    """One run: data, players, optimizers, EMA, run folder; ``run()`` trains to the last epoch."""

    def __init__(self, cfg: SemisupConfig, run_dir: Path | None = None, resume: bool = False,
                 data: SemisupData | None = None):
        self.cfg, self.device = cfg, pick_device(cfg.device)
        self.data = d = data or load_semisup_data(
            cfg.dataset, cfg.labels, cfg.seed, root=cfg.data_root, unlabeled_limit=cfg.unlabeled_limit,
            image_size=cfg.image_size, device=self.device)
        if len(d.x_labeled) != cfg.labels:
            raise ValueError(f"data has {len(d.x_labeled)} labeled images but the config asks for {cfg.labels}")
        torch.manual_seed(cfg.seed)
        n_in, k = d.x_unlabeled.shape[1], len(d.class_names)
        self.D = Classifier(n_in, parse_widths(cfg.d_hidden, "d_hidden"), k, cfg.input_noise,
                            cfg.hidden_noise).to(self.device)
        init_idx = torch.randperm(len(d.x_unlabeled))[:cfg.init_batch].to(self.device)
        data_dependent_init(self.D, d.x_unlabeled[init_idx])
        # eps: the improved-GAN code divides by sqrt(v + 1e-8), an epsilon of about 1e-4 in
        # torch's form. With torch's 1e-8, near-zero gradients (a saturated sigmoid in G) still
        # get full-size steps; in our runs G's output then saturated and G collapsed at epoch 8.
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, 0.999), eps=cfg.adam_eps)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.G = self.opt_g = None
        if cfg.method == "ssgan":
            self.G = Generator(cfg.z_dim, parse_widths(cfg.g_hidden, "g_hidden"), n_in).to(self.device)
            self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad], **adam)
        self.ema = PolyakEMA(self.D, cfg.ema) if cfg.ema else None
        b = cfg.batch_size
        self.labeled = IndexStream(len(d.x_labeled), b, cfg.seed, 0, self.device)
        self.unlabeled_d = IndexStream(len(d.x_unlabeled), b, cfg.seed, 1, self.device)
        self.unlabeled_g = IndexStream(len(d.x_unlabeled), b, cfg.seed, 2, self.device)
        self.steps_per_epoch = len(d.x_unlabeled) // b
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.step, self.wall_seconds = 0, 0.0
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(cfg)
        self.ckpt_dir = self.run_dir / "checkpoints"
        if resume:
            self._restore()
        self._write_run_files(resume)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl", self.step if resume else None)

    # --- run folder ---------------------------------------------------------------

    def _modules(self) -> dict[str, nn.Module]:
        mods = {"D": self.D, **({"G": self.G} if self.G else {})}
        return {**mods, **({"D_ema": self.ema.model} if self.ema else {})}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_d": self.opt_d, **({"opt_g": self.opt_g} if self.opt_g else {})}

    def _restore(self) -> None:
        record = checkpoint.restore_latest(self.ckpt_dir, modules=self._modules(), optimizers=self._optimizers())
        self.step, self.wall_seconds = record["step"], record.get("wall_seconds", 0.0)

    def _write_run_files(self, resume: bool) -> None:
        import yaml
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
        idx = self.data.labeled_indices.tolist()
        atomic_write_text(self.run_dir / "labeled_indices.json", json.dumps(
            {"dataset": self.cfg.dataset, "seed": self.cfg.seed, "labels": len(idx), "indices": idx,
             "classes": self.data.y_labeled.tolist()}))
        if not resume:
            meta = {"seed": self.cfg.seed, "gankit": __version__, "torch": torch.__version__,
                    "python": platform.python_version(), "platform": platform.platform(),
                    "git_commit": git_commit(), "device": str(self.device),
                    "machine": machine_description(self.device), "command": sys.argv,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            atomic_write_text(self.run_dir / "meta.json", json.dumps(meta, indent=1))

    def save(self) -> Path:
        for name, module in self._modules().items():
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise TrainingDiverged(f"{name} has non-finite weights at step {self.step}; not saving")
        return checkpoint.save_checkpoint(
            self.ckpt_dir, self.step, modules=self._modules(), optimizers=self._optimizers(),
            meta={"config": self.cfg.to_dict(), "wall_seconds": self.wall_seconds}, keep=2)

    # --- one step -----------------------------------------------------------------

    def lr_at(self, step: int) -> float:
        """Constant, then linearly to 0 over the last (1 - lr_decay_start) of the run."""
        left = 1 - step / self.total_steps
        return self.cfg.lr * min(1.0, left / (1 - self.cfg.lr_decay_start))

    def train_step(self) -> dict[str, Tensor]:
        cfg, s, d = self.cfg, self.step, self.data
        torch.manual_seed((cfg.seed * 1_000_003 + s) % 2**62)  # noise: a function of (seed, step)
        for opt in self._optimizers().values():
            for group in opt.param_groups:
                group["lr"] = self.lr_at(s)
        lab = self.labeled(s)
        x_lab, y_lab = d.x_labeled[lab], d.y_labeled[lab]
        b = len(lab)
        if self.G is None:
            logits_lab = self.D(x_lab)
            loss_lab = losses.supervised_loss(logits_lab, y_lab)
            loss_d, stats = loss_lab, {}
        else:
            # D step: one forward over [labeled | unlabeled | generated]; D has no batch
            # statistics, so this equals three separate passes, at a third of the calls.
            with torch.no_grad():
                fake = self.G(self.G.noise(b, device=self.device))
            logits = self.D(torch.cat([x_lab, d.x_unlabeled[self.unlabeled_d(s)], fake]))
            logits_lab, logits_unl, logits_fake = logits.split(b)
            loss_lab = losses.supervised_loss(logits_lab, y_lab)
            loss_unl = losses.unlabeled_loss(logits_unl, logits_fake)
            loss_d = loss_lab + cfg.unlabeled_weight * loss_unl
            stats = {"loss_unl": loss_unl.detach()}
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if self.G is not None:
            stats["loss_g"] = self._generator_step(s, b)
        if self.ema:
            self.ema.update(self.D, s)
        self.step += 1
        acc = (logits_lab.argmax(1) == y_lab).float().mean()
        return {"loss_lab": loss_lab.detach(), "train_acc_lab": acc, **stats}

    def _generator_step(self, s: int, b: int) -> Tensor:
        """Feature matching: G matches the mean of D's last hidden layer on real data."""
        self.D.requires_grad_(False)  # gradients flow through D to G, none are kept for D
        try:
            with torch.no_grad():
                f_real = self.D.features(self.data.x_unlabeled[self.unlabeled_g(s)])
            f_fake = self.D.features(self.G(self.G.noise(b, device=self.device)))
            loss_g = losses.feature_matching_loss(f_real, f_fake)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return loss_g.detach()

    # --- the loop -------------------------------------------------------------------

    @property
    def test_model(self) -> nn.Module:
        return self.ema.model if self.ema else self.D

    def evaluate(self) -> dict[str, int]:
        d = self.data
        out = {"test_errors": test_errors(self.test_model, d.x_test, d.y_test)}
        if self.ema:
            out["test_errors_raw"] = test_errors(self.D, d.x_test, d.y_test)
        self.D.train()
        return out

    def _end_epoch(self, sums: dict[str, Tensor], n: int, bar: SemisupProgress) -> dict:
        epoch = self.step // self.steps_per_epoch
        row = {"epoch": epoch, "step": self.step, "lr": self.lr_at(self.step - 1)}
        row.update({k: v.item() / max(n, 1) for k, v in sums.items()})
        bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(f"{bad[0]} became {row[bad[0]]} in epoch {epoch}; training stopped")
        if epoch % self.cfg.eval_every == 0 or self.step == self.total_steps:
            row.update(self.evaluate())
            self._write_samples()
        row["wall_seconds"] = round(self.wall_seconds, 1)
        self.log.append([row])
        bar.epoch_done(row, len(self.data.y_test))
        return row

    def _write_samples(self) -> None:
        if self.G is None:
            return
        from gankit.viz import save_image_grid
        with torch.no_grad():
            z = self.G.noise(100, torch.Generator().manual_seed(self.cfg.seed + 12345)).to(self.device)
            images = self.G(z).cpu().view(-1, *self.data.image_shape)
        save_image_grid(images * 2 - 1, self.run_dir / "samples.png", nrow=10)

    def run(self, progress: bool = True) -> SemisupResult:
        self.D.train()
        if self.G:
            self.G.train()
        sums: dict[str, Tensor] = {}
        n, last = 0, {}
        with stop_on_signal() as stop, SemisupProgress(self.total_steps, self.step, progress, self.run_dir) as bar:
            while self.step < self.total_steps and not stop.is_set():
                t0 = time.perf_counter()
                stats = self.train_step()
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                n += 1
                self.wall_seconds += time.perf_counter() - t0
                bar.advance()
                if self.step % self.steps_per_epoch == 0:
                    last = self._end_epoch(sums, n, bar)
                    sums, n = {}, 0
                    self.save()
            if stop.is_set():
                self.save()
                bar.console.print(f"stopped at step {self.step}; resume with --resume {self.run_dir}")
        return self._finish(last)

    def _finish(self, last: dict) -> SemisupResult:
        done = self.step >= self.total_steps
        errors = last.get("test_errors") if done else None
        if done and errors is None:
            errors = self.evaluate()["test_errors"]
        test_size = len(self.data.y_test)
        if done:
            meta = {"dataset": self.cfg.dataset, "labels": self.cfg.labels, "seed": self.cfg.seed,
                    "method": self.cfg.method, "epochs": self.cfg.epochs, "test_errors": errors,
                    "test_size": test_size, "class_names": self.data.class_names,
                    "image_shape": list(self.data.image_shape), "config": self.cfg.to_dict()}
            save_classifier(self.run_dir / "classifier", self.test_model, meta)
            result = {k: meta[k] for k in ("dataset", "labels", "seed", "method", "epochs", "test_errors",
                                           "test_size")}
            result.update(test_error_percent=100 * errors / test_size, steps=self.step,
                          wall_seconds=round(self.wall_seconds, 1), machine=machine_description(self.device))
            atomic_write_text(self.run_dir / "result.json", json.dumps(result, indent=1))
        return SemisupResult(self.run_dir, errors, test_size, self.step // self.steps_per_epoch,
                             self.wall_seconds, self.test_model)


def _new_run_dir(cfg: SemisupConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(cfg.out_dir) / f"{cfg.name}-{cfg.method}-{cfg.labels}-s{cfg.seed}-{stamp}"
    path, i = base, 1
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def train_semisup(cfg: SemisupConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                  progress: bool = True, data: SemisupData | None = None) -> SemisupResult:
    """Train ``cfg`` (method ssgan or supervised) and test the EMA classifier on the official test set.

    Writes RUN/config.yaml, meta.json, labeled_indices.json, metrics.jsonl (one row
    per epoch, with the test error), checkpoints/, samples.png, and at the end
    classifier.safetensors + classifier.json and result.json. ``data``: the output of
    load_semisup_data for this config's dataset, labels, seed and sizes, to share one
    load between runs (e.g. a method and its baseline); None loads it.
    """
    return SemisupTrainer(cfg, Path(run_dir) if run_dir else None, resume, data).run(progress)
