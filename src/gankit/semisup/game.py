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

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit import distributed
from gankit.checkpoint import atomic_write_text
from gankit.data.augment import random_shift
from gankit.distributed import DistInfo
from gankit.loop import EMA, BatchSampler, Game, LoopSettings, Phase, Player, Trainer, linear_decay
from gankit.runs import MetricsLog, RunFolder, machine_description, new_run_dir
from gankit.semisup import losses
from gankit.semisup.classifier import predicted_classes, save_classifier, test_errors
from gankit.semisup.config import SemisupConfig
from gankit.semisup.data import SemisupData, load_semisup_data
from gankit.semisup.mistakes import save_mistakes
from gankit.semisup.nets import Classifier, Generator, copy_of, data_dependent_init, parse_widths, stack_copies


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


class SemisupGame(Game):
    """The semi-supervised game for seeds ``cfg.seeds`` side by side: D's phase, then G's (ssgan).

    Each seed has its own labeled subset, initial weights (those of a run of that seed alone),
    batch order and outputs in RUN/seed-K/ (RUN itself for one seed); the stack is a model
    detail (nets.stack_copies). Stats are per seed, shape (copies,).
    """

    def __init__(self, cfg: SemisupConfig, info: DistInfo, run_dir: Path, data: SemisupData | None = None):
        self.cfg, self.info, self.device = cfg, info, info.device
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
        self.phases = [Phase("D", (Player("D", self.D, self.opt_d, cfg.lr, log=False),))]
        self.G = self.opt_g = None
        if cfg.method == "ssgan":
            self.G = stack_copies(Gs)
            g_beta1 = cfg.beta1 if cfg.g_beta1 is None else cfg.g_beta1
            g_lr = cfg.g_lr or cfg.lr
            self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad],
                                          **dict(adam, lr=g_lr, betas=(g_beta1, cfg.beta2)))
            self.phases.append(Phase("G", (Player("G", self.G, self.opt_g, g_lr, log=False),)))
        self.ema = EMA(self.D, cfg.ema, warmup=True) if cfg.ema else None
        self.averages = [(self.ema, self.D)] if self.ema else []
        if self.ema and cfg.consistency_weight and cfg.consistency_target == "ema":
            self.ema.model.train()  # the teacher's noise on; tests and saves go through copy_of(...).eval()
        self.marginal = (ClassMarginal(len(self.seeds), len(d.class_names), cfg.balance_ema).to(self.device)
                         if cfg.method == "ssgan" and cfg.balance_weight and cfg.balance_ema else None)
        b, n_lab, n_unl = cfg.batch_size, cfg.labels, len(d.x_unlabeled)
        streams = [dict(seed=seed, last="wrap", device=self.device) for seed in self.seeds]
        self.labeled = [BatchSampler(n_lab, b, stream=0, **s) for s in streams]
        self.unlabeled_d = [BatchSampler(n_unl, b, stream=1, **s) for s in streams]
        self.unlabeled_g = [BatchSampler(n_unl, b, stream=2, **s) for s in streams]
        self.copy_index = torch.arange(len(self.seeds), device=self.device)[:, None]
        self.steps_per_epoch = n_unl // b
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.lr_schedule = linear_decay(self.total_steps, start=cfg.lr_decay_start)
        self.run_dir = Path(run_dir)
        self.seed_dirs = [self.run_dir] if len(self.seeds) == 1 else [self.run_dir / f"seed-{s}" for s in self.seeds]
        self._mean_unl: Tensor | None = None
        self.last_rows: list[dict] = []

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

    # --- what the loop asks ---

    def modules(self) -> dict[str, nn.Module]:
        mods = {"D": self.D, **({"G": self.G} if self.G else {})}
        mods.update({"D_ema": self.ema.model} if self.ema else {})
        return {**mods, **({"class_marginal": self.marginal} if self.marginal else {})}

    def checkpoint_meta(self, step: int) -> dict:
        return {"config": self.cfg.to_dict()}

    def step_seed(self, step: int) -> int:
        return self.cfg.seed * 1_000_003 + step  # noise: a function of (seed, step)

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self._d_phase(step) if phase.name == "D" else self._g_phase(step)

    def end_step(self, step: int, stats: dict[str, Tensor]) -> None:
        if self.marginal is not None:
            self.marginal.update(self._mean_unl)

    def write_run_files(self, run: RunFolder, resume: bool) -> None:
        """config.yaml, each seed's labeled_indices.json, and meta.json for a new run."""
        run.write_config(self.cfg.to_dict())
        for k, (seed, folder) in enumerate(zip(self.seeds, self.seed_dirs)):
            folder.mkdir(exist_ok=True)
            idx = self.data.labeled_indices[k].tolist()
            atomic_write_text(folder / "labeled_indices.json", json.dumps(
                {"dataset": self.cfg.dataset, "seed": seed, "labels": len(idx), "indices": idx,
                 "classes": self.data.y_labeled[k].tolist()}))
        if not resume:
            run.write_meta(self.cfg.seed, self.device, seeds=list(self.seeds))
        self.logs = [MetricsLog(folder / "metrics.jsonl", None) for folder in self.seed_dirs]

    def truncate_logs(self, step: int) -> None:
        """On resume: each seed's log forgets the epochs after the checkpoint."""
        self.logs = [MetricsLog(folder / "metrics.jsonl", step) for folder in self.seed_dirs]

    # --- one step ---

    def lr_at(self, step: int) -> float:
        """D's learning rate at ``step``."""
        return self.lr_schedule(self.cfg.lr, step)

    def _batch(self, samplers: list[BatchSampler], step: int) -> Tensor:
        """(copies, batch) indices: each seed's own t-th batch."""
        return torch.stack([sampler(step) for sampler in samplers])

    def _augment(self, x: Tensor) -> Tensor:
        """A batch of images as D sees them: each moved at random when ``translate`` is set.

        Real and generated images alike (as DiffAugment, Zhao et al. 2020, does): when only the
        real ones moved, D told generated images by their placement and G collapsed (our runs).
        """
        if not self.cfg.translate:
            return x
        return random_shift(x.reshape(-1, 1, *self.data.image_shape[-2:]), self.cfg.translate).reshape(x.shape)

    def _noise(self, b: int) -> Tensor:
        return torch.rand(len(self.seeds), b, self.cfg.z_dim, device=self.device)  # the paper's uniform z

    def _d_phase(self, s: int) -> tuple[Tensor, dict[str, Tensor]]:
        cfg, d = self.cfg, self.data
        lab = self._batch(self.labeled, s)
        x_lab, y_lab = self._augment(d.x_labeled[self.copy_index, lab]), d.y_labeled[self.copy_index, lab]
        x_unl = z = None
        if self.G is not None:
            x_unl, z = self._augment(d.x_unlabeled[self._batch(self.unlabeled_d, s)]), self._noise(lab.shape[1])
        out = self.d_losses(x_lab, y_lab, x_unl, z, None if self.marginal is None else self.marginal.mean)
        loss_d = out["loss_lab"]
        if self.G is not None:
            loss_d = (loss_d + cfg.unlabeled_weight * out["loss_unl"] + cfg.entropy_weight * out["entropy_unl"]
                      + cfg.balance_weight * out["balance_unl"])
            if cfg.consistency_weight:
                loss_d = loss_d + cfg.consistency_weight * out["consistency_unl"]
        if self.marginal is not None:
            self._mean_unl = out.pop("mean_unl").detach().clone()   # a clone: a captured step reuses its outputs
        stats = {k: v.detach() for k, v in out.items()}
        return loss_d.sum(), stats  # a sum: each seed's gradient is its own loss's, as in a run alone

    def _g_phase(self, s: int) -> tuple[Tensor, dict[str, Tensor]]:
        x_unl = self._augment(self.data.x_unlabeled[self._batch(self.unlabeled_g, s)])
        loss_g = self.g_loss(x_unl, self._noise(self.cfg.batch_size))
        return loss_g.sum(), {"loss_g": loss_g.detach()}

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

    # --- the epoch's log line, tests and samples ---

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

    def record(self, rows: list[dict], trainer: Trainer, partial: bool) -> None:
        """An epoch's line per seed: mean stats, warnings, test errors every eval_every epochs."""
        if partial:  # a run stopped mid-epoch logs nothing for it (resuming repeats its steps)
            return
        step = rows[-1]["step"]
        epoch = step // self.steps_per_epoch
        keys = [k for k in rows[0] if k != "step"]
        lines = [{"epoch": epoch, "step": step, "lr": self.lr_at(step - 1),
                  **{k: sum(r[k][i] for r in rows) / len(rows) for k in keys}} for i in range(len(self.seeds))]
        for seed, folder, line in zip(self.seeds, self.seed_dirs, lines):
            warnings = [w for w in (collapse_warning(line, seed, folder),
                                    vanishing_class_warning(line, seed, len(self.data.class_names))) if w]
            if warnings:
                line["warning"] = " ".join(warnings)
                for warning in warnings:
                    trainer.bar.console.print(f"[yellow]warning:[/yellow] {warning}")
        if epoch % self.cfg.eval_every == 0 or step == self.total_steps:
            for line, tested in zip(lines, self.evaluate()):
                line.update(tested)
            self._write_samples()
        for line, log in zip(lines, self.logs):
            line["wall_seconds"] = round(trainer.wall_seconds, 1)
            log.append([line])
        trainer.bar.show(epoch_summary(lines, self.seeds, len(self.data.y_test)))
        self.last_rows = lines

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

    # --- after the last epoch ---

    def _save_mistakes(self, model: nn.Module, path: Path) -> list[int]:
        """Draw what the classifier gets wrong on the test set; return its errors per true class."""
        d = self.data
        predicted = predicted_classes(model, d.x_test)
        matrix = save_mistakes(d.x_test.view(-1, *d.image_shape[-2:]), d.y_test, predicted, d.class_names, path)
        return (matrix.sum(1) - matrix.diagonal()).tolist()

    def finish(self, wall_seconds: float) -> list[int]:
        """Each seed's classifier, result.json and mistakes picture; returns the test errors per seed."""
        test_size = len(self.data.y_test)
        last = self.last_rows
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
            result.update(test_error_percent=100 * err / test_size, steps=self.total_steps,
                          wall_seconds=round(wall_seconds, 1), machine=machine,
                          trained_with_seeds=list(self.seeds),
                          errors_by_true_class=self._save_mistakes(model, folder / "mistakes.png"))
            atomic_write_text(folder / "result.json", json.dumps(result, indent=1))
        return errors


def epoch_summary(rows: list[dict], seeds: tuple[int, ...], test_size: int) -> str:
    """The text beside the bar: losses as the mean over the seeds, test errors per seed."""
    mean = {k: statistics.mean(r[k] for r in rows) for k in ("loss_lab", "loss_unl", "loss_g") if k in rows[0]}
    info = f"epoch {rows[0]['epoch']}  CE {mean['loss_lab']:.3f}"
    if "loss_g" in mean:
        info += f"  unl {mean['loss_unl']:.3f}  FM {mean['loss_g']:.3f}"
    if "test_errors" in rows[0]:
        errors = [r["test_errors"] for r in rows]
        info += f"  test errors {errors[0]}/{test_size}" if len(rows) == 1 else \
            "  test errors " + " ".join(f"s{s}:{e}" for s, e in zip(seeds, errors)) + f" /{test_size}"
    return info


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


def semisup_trainer(cfg: SemisupConfig, run_dir: str | Path | None = None, resume: bool = False,
                    data: SemisupData | None = None) -> Trainer:
    """The one loop set up to play ``cfg``'s semi-supervised game (``trainer.game``) into a run folder."""
    info = distributed.setup(cfg.device)
    path = Path(run_dir) if run_dir else new_run_dir(
        cfg.out_dir, f"{cfg.name}-{cfg.method}-{cfg.labels}-s{cfg.seed}")
    RunFolder.check(path, resume)
    game = SemisupGame(cfg, info, path, data)   # data and nets first: a bad input leaves no run folder behind
    run = RunFolder(path, resume=resume)
    try:
        settings = LoopSettings(steps=game.total_steps, log_every=game.steps_per_epoch,
                                ckpt_minutes=cfg.save_every_minutes, keep_ckpts=2, label="semisup", compile=cfg.compile,
                                resume_command="gankit semisup --resume {run}")
        game.write_run_files(run, resume)
        trainer = Trainer(game, run, settings, info, resume)
        if resume:
            game.truncate_logs(trainer.step)
    except BaseException:
        run.release()
        raise
    return trainer


def train_semisup(cfg: SemisupConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                  progress: bool = True, data: SemisupData | None = None) -> SemisupResult:
    """Train ``cfg`` (method ssgan or supervised) and test the EMA classifier on the official test set.

    Writes RUN/config.yaml, meta.json, labeled_indices.json, metrics.jsonl (one row
    per epoch, with the test error), checkpoints/, samples.png, and at the end
    classifier.safetensors + classifier.json and result.json. ``data``: the output of
    load_semisup_data for this config's dataset, labels, seed and sizes, to share one
    load between runs (e.g. a method and its baseline); None loads it.
    """
    trainer = semisup_trainer(cfg, run_dir, resume, data)
    game: SemisupGame = trainer.game
    with trainer.run_folder:
        result = trainer.run(progress)
        errors = None if result.interrupted else game.finish(result.wall_seconds)
    return SemisupResult(trainer.run_dir, game.seeds, game.seed_dirs, errors, len(game.data.y_test),
                         trainer.step // game.steps_per_epoch, result.wall_seconds, game.classifiers())
