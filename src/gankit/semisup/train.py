"""Training the semi-supervised GAN (Salimans et al. 2016, arXiv 1606.03498) and its supervised baseline.

One step of ``method: ssgan`` (the paper's MNIST recipe):

1. D step on a labeled batch, an unlabeled batch and a generated batch (separate
   draws): cross-entropy on the labels + unlabeled_weight * the real/fake loss
   of losses.unlabeled_loss (+ consistency_weight * the Pi-model term of
   losses.consistency_loss, when set: the unlabeled batch classified twice, the second time by
   D itself or, with consistency_target ema, by the EMA classifier; + balance_weight *
   the class-balance term, of the batch's mean prediction or, with balance_ema, of a running one).
2. G step: feature matching on D's last hidden layer, against a second unlabeled batch.
3. Polyak average (EMA) of D's weights; the average is what is tested and saved.

``method: supervised`` trains the same D (same noise, init, optimizer, schedule
and EMA) on the labeled batches alone, for the same number of steps.

``parallel_seeds: N`` trains seeds seed..seed+N-1 side by side (nets.stack_copies): each
seed has its own labeled subset, initial weights (those of a run of that seed alone),
batch order and outputs in RUN/seed-K/; the noise comes from one stream for all.

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
from gankit.seeding import reseed
from gankit.semisup import losses
from gankit.semisup.classifier import predicted_classes, save_classifier, test_errors
from gankit.semisup.config import SemisupConfig
from gankit.semisup.data import SemisupData, load_semisup_data, random_shift
from gankit.semisup.mistakes import save_mistakes
from gankit.semisup.nets import Classifier, Generator, copy_of, data_dependent_init, parse_widths, stack_copies
from gankit.semisup.progress import SemisupProgress


@dataclass
class SemisupResult:
    run_dir: Path
    seeds: tuple[int, ...]
    seed_dirs: list[Path]             # where each seed's classifier and result are (run_dir for one seed)
    test_errors: list[int] | None     # per seed, of the EMA classifier on the official test set, after the last epoch
    test_size: int
    epochs: int
    wall_seconds: float
    classifiers: list[nn.Module]


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
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - beta)
        buffers = list(self.model.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(model.buffers()))


class ClassMarginal(nn.Module):
    """D's mean class prediction on unlabeled batches, an EMA over steps, per copy: (copies, K).

    A module so that checkpoints keep it (an exact resume needs it); starts uniform.
    """

    def __init__(self, copies: int, num_classes: int, decay: float):
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.full((copies, num_classes), 1.0 / num_classes))

    @torch.no_grad()
    def update(self, batch_mean: Tensor) -> None:
        self.mean.lerp_(batch_mean, 1 - self.decay)


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
            cfg.dataset, cfg.labels, cfg.seeds, root=cfg.data_root, unlabeled_limit=cfg.unlabeled_limit,
            image_size=cfg.image_size, val_size=cfg.val_size, device=self.device)
        self.seeds = cfg.seeds
        val_size = 0 if d.val_indices is None else d.val_indices.shape[1]
        if d.seeds != self.seeds or d.x_labeled.shape[1] != cfg.labels or val_size != cfg.val_size:
            raise ValueError(f"data has {d.x_labeled.shape[1]} labeled and {val_size} validation images for seeds "
                             f"{d.seeds}, but the config asks for {cfg.labels} and {cfg.val_size} for seeds "
                             f"{self.seeds}")
        Ds, Gs = zip(*(self._players(seed) for seed in self.seeds))
        self.D = stack_copies(Ds)
        # eps: the improved-GAN code divides by sqrt(v + 1e-8), an epsilon of about 1e-4 in
        # torch's form. With torch's 1e-8, near-zero gradients (a saturated sigmoid in G) still get
        # full-size steps: in our runs G's output saturated and G collapsed, at epoch 8 with the
        # paper's betas and at epoch 10 with the Bad GAN code's (which use 1e-8).
        # fused: one kernel for all the parameters instead of several per tensor (CPU and CUDA).
        fused = True if self.device.type in ("cuda", "cpu") else None
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.G = self.opt_g = None
        if cfg.method == "ssgan":
            self.G = stack_copies(Gs)
            g_beta1 = cfg.beta1 if cfg.g_beta1 is None else cfg.g_beta1
            g_adam = dict(adam, lr=cfg.g_lr or cfg.lr, betas=(g_beta1, cfg.beta2))
            self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad], **g_adam)
        for opt in self._optimizers().values():  # the schedule scales each optimizer's own lr
            for group in opt.param_groups:
                group["base_lr"] = group["lr"]
        self.ema = PolyakEMA(self.D, cfg.ema) if cfg.ema else None
        if self.ema and cfg.consistency_weight and cfg.consistency_target == "ema":
            self.ema.model.train()  # the teacher's noise on; tests and saves go through copy_of(...).eval()
        self.marginal = (ClassMarginal(len(self.seeds), len(d.class_names), cfg.balance_ema).to(self.device)
                         if cfg.method == "ssgan" and cfg.balance_weight and cfg.balance_ema else None)
        self._d_losses, self._g_loss = self.d_losses, self.g_loss
        self.graphed = cfg.compile and self.device.type == "cuda"
        if cfg.compile:  # CUDA: graphs replay each step's hundreds of small kernels as one launch
            mode = "reduce-overhead" if self.graphed else None
            self._d_losses = torch.compile(self.d_losses, mode=mode, fullgraph=True)
            self._g_loss = torch.compile(self.g_loss, mode=mode, fullgraph=True)
        b, n_lab, n_unl = cfg.batch_size, cfg.labels, len(d.x_unlabeled)
        self.labeled = [IndexStream(n_lab, b, seed, 0, self.device) for seed in self.seeds]
        self.unlabeled_d = [IndexStream(n_unl, b, seed, 1, self.device) for seed in self.seeds]
        self.unlabeled_g = [IndexStream(n_unl, b, seed, 2, self.device) for seed in self.seeds]
        self.copy_index = torch.arange(len(self.seeds), device=self.device)[:, None]
        self.steps_per_epoch = n_unl // b
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.step, self.wall_seconds = 0, 0.0
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(cfg)
        self.seed_dirs = [self.run_dir] if len(self.seeds) == 1 else [self.run_dir / f"seed-{s}" for s in self.seeds]
        self.ckpt_dir = self.run_dir / "checkpoints"
        if resume:
            self._restore()
        self._write_run_files(resume)
        self.logs = [MetricsLog(folder / "metrics.jsonl", self.step if resume else None) for folder in self.seed_dirs]

    def _players(self, seed: int) -> tuple[Classifier, Generator | None]:
        """One seed's D (weight-norm init on its own batch) and G: those of a run of that seed alone."""
        cfg, d = self.cfg, self.data
        torch.manual_seed(seed)
        n_in, k = d.x_unlabeled.shape[1], len(d.class_names)
        D = Classifier(n_in, parse_widths(cfg.d_hidden, "d_hidden"), k, cfg.input_noise,
                       cfg.hidden_noise).to(self.device)
        init_idx = torch.randperm(len(d.x_unlabeled))[:cfg.init_batch].to(self.device)
        data_dependent_init(D, d.x_unlabeled[init_idx])
        G = None
        if cfg.method == "ssgan":
            G = Generator(cfg.z_dim, parse_widths(cfg.g_hidden, "g_hidden"), n_in).to(self.device)
        return D, G

    # --- run folder ---------------------------------------------------------------

    def _modules(self) -> dict[str, nn.Module]:
        mods = {"D": self.D, **({"G": self.G} if self.G else {})}
        mods.update({"D_ema": self.ema.model} if self.ema else {})
        return {**mods, **({"class_marginal": self.marginal} if self.marginal else {})}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_d": self.opt_d, **({"opt_g": self.opt_g} if self.opt_g else {})}

    def _restore(self) -> None:
        record = checkpoint.restore_latest(self.ckpt_dir, modules=self._modules(), optimizers=self._optimizers())
        self.step, self.wall_seconds = record["step"], record.get("wall_seconds", 0.0)

    def _write_run_files(self, resume: bool) -> None:
        import yaml
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
        for k, (seed, folder) in enumerate(zip(self.seeds, self.seed_dirs)):
            folder.mkdir(exist_ok=True)
            idx = self.data.labeled_indices[k].tolist()
            atomic_write_text(folder / "labeled_indices.json", json.dumps(
                {"dataset": self.cfg.dataset, "seed": seed, "labels": len(idx), "indices": idx,
                 "classes": self.data.y_labeled[k].tolist()}))
        if not resume:
            meta = {"seed": self.cfg.seed, "seeds": list(self.seeds), "gankit": __version__, "torch": torch.__version__,
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

    def lr_factor(self, step: int) -> float:
        """1, then linearly to 0 over the last (1 - lr_decay_start) of the run."""
        left = 1 - step / self.total_steps
        return min(1.0, left / (1 - self.cfg.lr_decay_start))

    def lr_at(self, step: int) -> float:
        """D's learning rate at ``step``."""
        return self.cfg.lr * self.lr_factor(step)

    def _batch(self, streams: list[IndexStream], step: int) -> Tensor:
        """(copies, batch) indices: each seed's own t-th batch."""
        return torch.stack([stream(step) for stream in streams])

    def _augment(self, x: Tensor) -> Tensor:
        """A batch of images as D sees them: each moved at random when ``translate`` is set.

        Real and generated images alike (as DiffAugment, Zhao et al. 2020, does): when only the
        real ones moved, D told generated images by their placement and G collapsed (our runs).
        """
        return random_shift(x, self.data.image_shape, self.cfg.translate)

    def _noise(self, b: int) -> Tensor:
        return torch.rand(len(self.seeds), b, self.cfg.z_dim, device=self.device)  # the paper's uniform z

    def d_losses(self, x_lab: Tensor, y_lab: Tensor, x_unl: Tensor | None, z: Tensor | None,
                 marginal: Tensor | None = None) -> dict[str, Tensor]:
        """D's losses and labeled accuracy per seed, shape (copies,): the arithmetic of a D step.

        ``marginal``: the running class marginal (balance_ema), which the balance term then uses
        instead of the batch's own; the batch's mean prediction comes back as "mean_unl".
        """
        if self.G is None:
            logits_lab = self.D.stacked(x_lab)
            out = {"loss_lab": losses.supervised_loss(logits_lab, y_lab)}
        else:
            # one forward over [labeled | unlabeled | generated (| unlabeled again)]; D has no batch
            # statistics, so this equals separate passes, at a fraction of the calls; the second
            # unlabeled pass draws its own noise (the consistency term compares the two)
            with torch.no_grad():
                fake = self._augment(self.G(z))
            pi_model = self.cfg.consistency_weight and self.cfg.consistency_target == "pi"
            second_view = [x_unl] if pi_model else []
            logits = self.D.stacked(torch.cat([x_lab, x_unl, fake, *second_view], dim=1))
            logits_lab, logits_unl, logits_fake, *logits_unl2 = logits.split(x_lab.shape[1], dim=1)
            if self.cfg.consistency_weight and not pi_model:
                with torch.no_grad():  # the Mean Teacher: the EMA classifier, noise on (see __init__)
                    logits_unl2 = [self.ema.model.stacked(x_unl)]
            mean_unl = losses.mean_prediction(logits_unl)  # one softmax for the balance term and its log
            balance = (losses.class_balance_loss(mean_unl) if marginal is None
                       else losses.running_balance_loss(mean_unl, marginal))
            out = {"loss_lab": losses.supervised_loss(logits_lab, y_lab),
                   "loss_unl": losses.unlabeled_loss(logits_unl, logits_fake),
                   "entropy_unl": losses.conditional_entropy(logits_unl),
                   "balance_unl": balance,
                   "smallest_class_unl": mean_unl.amin(-1)}
            if marginal is not None:
                out["mean_unl"] = mean_unl
            if logits_unl2:
                out["consistency_unl"] = losses.consistency_loss(logits_unl, logits_unl2[0])
        out["train_acc_lab"] = (logits_lab.argmax(-1) == y_lab).float().mean(-1)
        return out

    def g_loss(self, x_unl: Tensor, z: Tensor) -> Tensor:
        """Feature matching per seed: G matches the mean of D's last hidden layer on real data."""
        with torch.no_grad():
            f_real = self.D.stacked_features(x_unl)
        return losses.feature_matching_loss(f_real, self.D.stacked_features(self._augment(self.G(z))))

    def train_step(self) -> dict[str, Tensor]:
        """One step for every seed; the stats are per seed, shape (copies,)."""
        cfg, s, d = self.cfg, self.step, self.data
        if self.graphed:
            torch.compiler.cudagraph_mark_step_begin()
        reseed((cfg.seed * 1_000_003 + s) % 2**62, self.device)  # noise: a function of (seed, step)
        for opt in self._optimizers().values():
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * self.lr_factor(s)
        lab = self._batch(self.labeled, s)
        x_lab, y_lab = self._augment(d.x_labeled[self.copy_index, lab]), d.y_labeled[self.copy_index, lab]
        x_unl = z = None
        if self.G is not None:
            x_unl, z = self._augment(d.x_unlabeled[self._batch(self.unlabeled_d, s)]), self._noise(lab.shape[1])
        out = self._d_losses(x_lab, y_lab, x_unl, z, None if self.marginal is None else self.marginal.mean)
        loss_d = out["loss_lab"]
        if self.G is not None:
            loss_d = (loss_d + cfg.unlabeled_weight * out["loss_unl"] + cfg.entropy_weight * out["entropy_unl"]
                      + cfg.balance_weight * out["balance_unl"])
            if cfg.consistency_weight:
                loss_d = loss_d + cfg.consistency_weight * out["consistency_unl"]
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()  # a sum: each seed's gradient is its own loss's, as in a run alone
        self.opt_d.step()
        if self.marginal is not None:
            self.marginal.update(out.pop("mean_unl").detach())
        stats = {k: v.detach().clone() for k, v in out.items()}  # a clone: graphed outputs are reused
        if self.G is not None:
            stats["loss_g"] = self._generator_step(s, lab.shape[1])
        if self.ema:
            self.ema.update(self.D, s)
        self.step += 1
        return stats

    def _generator_step(self, s: int, b: int) -> Tensor:
        self.D.requires_grad_(False)  # gradients flow through D to G, none are kept for D
        try:
            x_unl = self._augment(self.data.x_unlabeled[self._batch(self.unlabeled_g, s)])
            loss_g = self._g_loss(x_unl, self._noise(b))
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.sum().backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return loss_g.detach().clone()

    # --- the loop -------------------------------------------------------------------

    @property
    def test_model(self) -> Classifier:
        return self.ema.model if self.ema else self.D

    def classifiers(self) -> list[nn.Module]:
        """Each seed's test-time classifier (the EMA one when there is one), as a plain Classifier."""
        return [copy_of(self.test_model, k).eval() for k in range(len(self.seeds))]

    def evaluate(self) -> list[dict[str, int]]:
        """Per seed: test errors of the test-time classifier (and of the raw D when there is an EMA),
        and validation errors when the config holds out validation labels."""
        d = self.data
        out = []
        for k, model in enumerate(self.classifiers()):
            models = {"": model, **({"_raw": copy_of(self.D, k).eval()} if self.ema else {})}
            row = {f"test_errors{tag}": test_errors(m, d.x_test, d.y_test) for tag, m in models.items()}
            if d.val_indices is not None:
                x_val = d.x_unlabeled[d.val_indices[k]]
                row.update({f"val_errors{tag}": test_errors(m, x_val, d.y_val[k]) for tag, m in models.items()})
            out.append(row)
        return out

    def _end_epoch(self, sums: dict[str, Tensor], n: int, bar: SemisupProgress) -> list[dict]:
        epoch = self.step // self.steps_per_epoch
        means = {k: (v / max(n, 1)).tolist() for k, v in sums.items()}
        rows = [{"epoch": epoch, "step": self.step, "lr": self.lr_at(self.step - 1),
                 **{k: v[i] for k, v in means.items()}} for i in range(len(self.seeds))]
        for seed, row in zip(self.seeds, rows):
            bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(f"seed {seed}: {bad[0]} became {row[bad[0]]} in epoch {epoch}; "
                                       f"training stopped")
            folder = self.seed_dirs[self.seeds.index(seed)]
            warnings = [w for w in (collapse_warning(row, seed, folder),
                                    vanishing_class_warning(row, seed, len(self.data.class_names))) if w]
            if warnings:
                row["warning"] = " ".join(warnings)
                for warning in warnings:
                    bar.console.print(f"[yellow]warning:[/yellow] {warning}")
        if epoch % self.cfg.eval_every == 0 or self.step == self.total_steps:
            for row, tested in zip(rows, self.evaluate()):
                row.update(tested)
            self._write_samples()
        for row, log in zip(rows, self.logs):
            row["wall_seconds"] = round(self.wall_seconds, 1)
            log.append([row])
        bar.epoch_done(rows, self.seeds, len(self.data.y_test))
        return rows

    def _write_samples(self) -> None:
        if self.G is None:
            return
        from gankit.viz import save_image_grid
        for k, (seed, folder) in enumerate(zip(self.seeds, self.seed_dirs)):
            G = copy_of(self.G, k).eval()
            with torch.no_grad():
                z = G.noise(100, torch.Generator().manual_seed(seed + 12345)).to(self.device)
                images = G(z).cpu().view(-1, *self.data.image_shape)
            save_image_grid(images * 2 - 1, folder / "samples.png", nrow=10)

    def run(self, progress: bool = True) -> SemisupResult:
        self.D.train()
        if self.G:
            self.G.train()
        sums: dict[str, Tensor] = {}
        n, last, saved_at = 0, [], time.monotonic()
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
                    # on a GPU an epoch takes seconds: a checkpoint every epoch would cost as much again
                    if self.step == self.total_steps or time.monotonic() - saved_at >= 60 * self.cfg.save_every_minutes:
                        self.save()
                        saved_at = time.monotonic()
            if stop.is_set():
                self.save()
                bar.console.print(f"stopped at step {self.step}; resume with --resume {self.run_dir}")
        return self._finish(last)

    def _save_mistakes(self, model: nn.Module, path: Path) -> list[int]:
        """Draw what the classifier gets wrong on the test set; return its errors per true class."""
        d = self.data
        predicted = predicted_classes(model, d.x_test)
        matrix = save_mistakes(d.x_test.view(-1, *d.image_shape[-2:]), d.y_test, predicted, d.class_names, path)
        return (matrix.sum(1) - matrix.diagonal()).tolist()

    def _finish(self, last: list[dict]) -> SemisupResult:
        done = self.step >= self.total_steps
        test_size = len(self.data.y_test)
        errors = None
        if done:
            tested = last if last and "test_errors" in last[0] else self.evaluate()
            errors = [row["test_errors"] for row in tested]
            machine = machine_description(self.device)
            for seed, folder, model, err in zip(self.seeds, self.seed_dirs, self.classifiers(), errors):
                meta = {"dataset": self.cfg.dataset, "labels": self.cfg.labels, "seed": seed,
                        "method": self.cfg.method, "epochs": self.cfg.epochs, "test_errors": err,
                        "test_size": test_size, "class_names": self.data.class_names,
                        "image_shape": list(self.data.image_shape), "config": self.cfg.to_dict()}
                save_classifier(folder / "classifier", model, meta)
                result = {k: meta[k] for k in ("dataset", "labels", "seed", "method", "epochs", "test_errors",
                                               "test_size")}
                result.update(test_error_percent=100 * err / test_size, steps=self.step,
                              wall_seconds=round(self.wall_seconds, 1), machine=machine,
                              trained_with_seeds=list(self.seeds),
                              errors_by_true_class=self._save_mistakes(model, folder / "mistakes.png"))
                atomic_write_text(folder / "result.json", json.dumps(result, indent=1))
        return SemisupResult(self.run_dir, self.seeds, self.seed_dirs, errors, test_size,
                             self.step // self.steps_per_epoch, self.wall_seconds, self.classifiers())


# D's unlabeled loss, an epoch's mean: about 0.3-0.4 while G keeps up (our MNIST runs); 0.009 and then
# 0.001 once G had saturated into one image and D told real from generated without fail
COLLAPSED_UNLABELED_LOSS = 0.02


def collapse_warning(row: dict, seed: int, folder: Path) -> str | None:
    """A message when an epoch's numbers say G has collapsed, else None.

    Training goes on (a collapse is not a crash, and the classifier keeps what it has
    learned), but the unlabeled data no longer teaches D anything.
    """
    if row.get("loss_unl", 1.0) >= COLLAPSED_UNLABELED_LOSS:
        return None
    return (f"seed {seed}, epoch {row['epoch']}: D tells generated from real images almost without fail "
            f"(unlabeled loss {row['loss_unl']:.4f}, feature-matching loss {row.get('loss_g', float('nan')):.1f}): "
            f"the generator has probably collapsed (look at {folder / 'samples.png'}), and the unlabeled "
            f"data stop helping. Lower learning rates or Adam's eps at 1e-4 (adam_eps) usually avoid it.")


# the least predicted class's share of a batch of unlabeled predictions (an epoch's mean), as a fraction
# of 1/K: 0.52-0.60 in the first epochs of our MNIST runs (a batch of 100 is never quite balanced); a
# class named on 1 % of the images, as class 9 was in our Pi-model runs that lost it, gives about 0.1
VANISHING_CLASS_SHARE = 0.25


def vanishing_class_warning(row: dict, seed: int, num_classes: int) -> str | None:
    """A message when D almost stops predicting one class on unlabeled data, else None."""
    share = row.get("smallest_class_unl")
    if share is None or share * num_classes >= VANISHING_CLASS_SHARE:
        return None
    return (f"seed {seed}, epoch {row['epoch']}: the least predicted class gets {share:.1%} of D's predictions "
            f"on unlabeled images (about {1 / num_classes:.0%} expected): one class is merging into others. "
            f"balance_weight (e.g. 1) keeps the predicted classes balanced.")


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
