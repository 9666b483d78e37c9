"""THE training loop. One :class:`Trainer` runs every game gankit plays.

A *game* (a :class:`Game` subclass) says what is trained and how a step's losses are
computed: its players (a module, its optimizer and base learning rate), grouped into
phases that run in order, the loss of each phase, and the state a checkpoint must hold.
The Trainer does everything else, the same way for every game:

    for each step t:
        reseed torch's streams from (seed, t)        when the game asks for it
        set every optimizer's learning rate          from the game's schedule
        for each phase, repeated phase.repeats times:
            loss = game.loss(phase, t, j)            the other phases' players frozen
            backward, all-reduce, gradient norm, optimizer step
        update the weight averages (EMA); game.end_step(t)
        every log_every steps: one device sync, NaN check, game.record(rows)
        checkpoint by steps or minutes; Ctrl-C / SIGTERM / time budget: save and stop

With ``compile`` (LoopSettings) each phase's update and the averages run through
torch.compile, CUDA graphs on a GPU (gankit.capture); the step computes the same thing.

The games: gankit.game.GANGame (every GAN recipe), gankit.semisup.game.SemisupGame
(the K+1-class semi-supervised GAN), gankit.privacy.game.DPTableGame (the DP tabular
GAN; Opacus wraps D, the privacy ledger is an optimizer step hook),
gankit.attacks.game.RobustGame (clean / FGSM / PGD training of a classifier) and
gankit.metrics.train_backbones.BackboneGame (the feature backbones).

Resuming: a checkpoint holds every module and optimizer the game names, torch's random
states and the step; batches are pure functions of the step (:class:`BatchSampler`), so a
resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Sequence

import torch
from torch import Tensor, nn

from gankit import capture, checkpoint, distributed
from gankit.errors import GankitError, TrainingDiverged
from gankit.progress import ProgressBar
from gankit.runs import MetricsLog, RunFolder, stop_on_signal
from gankit.seeding import reseed

Schedule = Callable[[float, int], float]   # (base learning rate, step) -> learning rate


# --- schedules -----------------------------------------------------------------------

def constant(base: float, step: int) -> float:
    return base


def linear_decay(total: int, start: float = 0.0, floor: float = 0.0) -> Schedule:
    """Constant for the first ``start`` of the run, then linearly to 0 (never below ``floor``)."""
    def lr(base: float, step: int) -> float:
        left = 1 - step / total
        factor = left if start == 0 else min(1.0, left / (1 - start))
        return max(base * factor, floor)
    return lr


def exponential_decay(decay: float, floor: float = 0.0) -> Schedule:
    """Divided by ``decay`` every step, never below ``floor`` (the 2014 GAN's SGD)."""
    return lambda base, step: max(base / decay ** step, floor)


def cosine(total: int, warmup: int = 0) -> Schedule:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    def lr(base: float, step: int) -> float:
        if step < warmup:
            return base * ((step + 1) / warmup)
        if warmup:
            return base * (0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))
        return 0.5 * base * (1 + math.cos(math.pi * step / total))
    return lr


# --- pieces a game is made of --------------------------------------------------------

@dataclass
class Player:
    """A module that one optimizer trains, at base learning rate ``lr`` (scaled by the schedule)."""

    name: str
    module: nn.Module
    optimizer: torch.optim.Optimizer
    lr: float
    log: bool = True   # log <name>_loss and <name>_grad_norm; off where a number must not be logged


@dataclass
class Phase:
    """Players updated from one loss computation; several players: gradients taken at one point."""

    name: str
    players: tuple[Player, ...]
    repeats: int = 1                                                    # e.g. n_dis critic steps
    context: Callable[[], ContextManager] = contextlib.nullcontext      # around the whole update


class EMA:
    """Exponential moving average of a module's weights (buffers are copied).

    ``start``: plain copies until this step. ``warmup``: the decay is min(decay, (1+t)/(10+t)),
    so a short run is not dominated by the initial weights (Salimans et al.'s Polyak average).
    """

    def __init__(self, model: nn.Module, decay: float, start: int = 0, warmup: bool = False):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.start, self.warmup = decay, start, warmup

    def beta(self, step: int) -> float:
        if self.warmup:
            return min(self.decay, (1 + step) / (10 + step))
        return self.decay if step >= self.start else 0.0

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - self.beta(step))
        buffers = list(self.model.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(model.buffers()))


class BatchSampler:
    """Which rows batch t holds: slices of one permutation of range(n) per epoch, a pure function of t.

    ``last``: "drop" (epochs of n // batch full batches, the rest unused), "partial" (the last
    batch of an epoch is smaller) or "wrap" (one endless stream: a batch may span two epochs).
    ``permutation(epoch)``: default seeded by (seed, stream, epoch); a game whose order comes from
    its own random stream passes that stream (and keeps it in its checkpoint). Under DDP each rank
    takes its own slice of every global batch.
    """

    def __init__(self, n: int, batch: int, *, seed: int = 0, stream: int | None = None, last: str = "drop",
                 rank: int = 0, world_size: int = 1, device: torch.device | str = "cpu",
                 permutation: Callable[[int], Tensor] | None = None):
        if batch % world_size:
            raise GankitError(f"batch size {batch} is not divisible by the {world_size} processes")
        if last != "wrap" and batch > n:
            raise GankitError(f"batch size {batch} is larger than the dataset ({n} samples)")
        self.n, self.batch, self.last, self.device = n, batch, last, device
        self.local, self.offset = batch // world_size, rank * (batch // world_size)
        self.per_epoch = n // batch if last == "drop" else math.ceil(n / batch)
        if permutation is None:
            base = seed * 1_000_003 if stream is None else (seed * 1_000_003 + stream) * 1_000_033
            permutation = lambda epoch: torch.randperm(n, generator=torch.Generator().manual_seed(base + epoch))
        self._permutation = permutation
        self._epoch, self._perm = -1, None

    def _perm_of(self, epoch: int) -> Tensor:
        if epoch != self._epoch:   # one epoch's permutation at a time
            self._epoch, self._perm = epoch, self._permutation(epoch).to(self.device)
        return self._perm

    def state_dict(self) -> dict[str, Tensor]:
        """The current epoch's permutation: a checkpoint needs it when ``permutation`` draws from a stream."""
        perm = self._perm if self._perm is not None else torch.zeros(0, dtype=torch.long)
        return {"epoch": torch.tensor(self._epoch), "perm": perm}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self._epoch, self._perm = int(state["epoch"]), state["perm"].to(self.device)
        if self._epoch < 0:
            self._perm = None

    @torch.compiler.disable   # host logic: traced, its guards on t would recompile a captured step every epoch
    def __call__(self, t: int) -> Tensor:
        if self.last == "wrap":
            start, parts, need = t * self.batch, [], self.batch
            while need:
                epoch, pos = divmod(start, self.n)
                part = self._perm_of(epoch)[pos:pos + need]
                parts.append(part)
                need -= len(part)
                start += len(part)
            return torch.cat(parts)
        epoch, pos = divmod(t, self.per_epoch)
        start = pos * self.batch + self.offset
        return self._perm_of(epoch)[start:start + self.local]


class GeneratorState:
    """A torch.Generator as checkpointable state (state_dict / load_state_dict)."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict[str, Tensor]:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.generator.set_state(state["state"])


class Game:
    """What a game says; the hooks below have defaults that suit most games."""

    phases: list[Phase]
    averages: list[tuple[EMA, nn.Module]] = []    # (average, the module it follows), updated every step
    lr_schedule: Schedule = staticmethod(constant)
    momentum_schedule: Callable[[int], float] | None = None   # SGD momentum by step, when set
    supports_ddp: bool = False

    def modules(self) -> dict[str, Any]:
        """Everything a checkpoint holds, by name: modules and other objects with a state_dict."""
        raise NotImplementedError

    def loss(self, phase: Phase, step: int, repeat: int) -> tuple[Tensor | dict[str, Tensor], dict[str, Tensor]]:
        """The phase's loss (one per player, by name, when it has several) and stats to log."""
        raise NotImplementedError

    def step_seed(self, step: int) -> int | None:
        """A seed for torch's streams before step ``step``; None keeps one stream (checkpointed)."""
        return None

    def end_step(self, step: int, stats: dict[str, Tensor]) -> None:
        """After every phase of step ``step`` and the averages."""

    def done(self, step: int) -> bool:
        """True to end the run after ``step`` steps, before settings.steps (e.g. an early-stopping rule).
        Asked when the log is written (the stats of the interval are then recorded); not a stopped run."""
        return False

    def checkpoint_meta(self, step: int) -> dict:
        """What a checkpoint needs besides tensors (JSON)."""
        return {}

    def describe(self, row: dict) -> str:
        """The text beside the progress bar, from the last logged row."""
        return "  ".join(f"{k.removesuffix('_loss')} {row[k]:.3f}" for k in row if k.endswith("_loss"))

    def record(self, rows: list[dict], trainer: "Trainer", partial: bool) -> None:
        """Write an interval's rows (one per step; ``partial``: the run stopped mid-interval)."""
        if trainer.metrics is not None:
            trainer.metrics.append(rows)
        trainer.bar.show(self.describe(rows[-1]))


# --- the loop ------------------------------------------------------------------------

@dataclass
class LoopSettings:
    steps: int
    log_every: int = 10
    ckpt_every: int | None = None       # checkpoint every N steps ...
    ckpt_minutes: float | None = None   # ... and/or when this long has passed (checked when logging)
    keep_ckpts: int = 3
    compile: bool = False               # capture each update with torch.compile (gankit.capture)
    max_minutes: float | None = None    # stop (and checkpoint) after this much wall time
    label: str = "train"                # beside the progress bar
    resume_command: str = ""            # printed when the run stops early; "{run}" is the run folder


@dataclass
class LoopResult:
    step: int
    interrupted: bool                   # stopped early (Ctrl-C, SIGTERM, time budget): not a finished run
    wall_seconds: float
    run_dir: Path | None = field(default=None)


class Trainer:
    """Runs one game to ``settings.steps``, writing into a run folder (rank 0 only under DDP)."""

    def __init__(self, game: Game, run: RunFolder | None, settings: LoopSettings,
                 info: distributed.DistInfo | None = None, resume: bool = False):
        self.game, self.run_folder, self.settings = game, run, settings
        self.bar: ProgressBar | None = None
        self.info = info or distributed.DistInfo()
        if self.info.world_size > 1 and not game.supports_ddp:
            raise GankitError(f"{type(game).__name__} trains in one process; start it without torchrun")
        self.step, self.wall_seconds = 0, 0.0
        self.players = [p for phase in game.phases for p in phase.players]
        forms = [capture.optimizer_form(p.optimizer) for p in self.players]   # as built, before a checkpoint
        if resume:
            self._restore()
            if self.step > settings.steps:
                raise GankitError(f"the run has done {self.step} steps and this config stops at {settings.steps}: "
                                  f"ask for at least {self.step} (train.steps, epochs) to continue it")
        self.captured = settings.compile and self._can_capture()
        self.updates = {phase.name: self._update for phase in game.phases}
        self._set_up_capture(forms)
        self.metrics = None
        if run is not None and self.info.is_main:
            self.metrics = MetricsLog(run.path / "metrics.jsonl", self.step if resume else None)
        self.interrupted = self.ending = False

    def _set_up_capture(self, forms: list[list[dict]]) -> None:
        """Each optimizer in the form this run steps with; with ``compile``, the updates compiled."""
        device = self.info.device
        for p, form in zip(self.players, forms):
            capture.prepare_optimizer(p.optimizer, device, self.captured, form)
        if not self.captured:
            return
        capture.enable_tf32(device)
        torch._dynamo.reset()   # a fresh cache: earlier runs in this process must not use up its entries
        # one compiled update per phase: a phase that cannot be captured leaves the others captured
        self.updates = {ph.name: capture.compiled(self._update, device, self.notice, f"the {ph.name} phase",
                                                  self._buffers) for ph in self.game.phases}
        self._average = capture.compiled(self._average, device, self.notice, "the weight average", self._buffers)

    def _buffers(self) -> list[Tensor]:
        """The game's module buffers: a forward pass updates some (BatchNorm statistics)."""
        return [b for m in self.game.modules().values() if isinstance(m, nn.Module) for b in m.buffers()]

    def _can_capture(self) -> bool:
        reason = capture.blocker(self.info.device)
        if reason:
            self.notice(f"compile: the step runs eagerly ({reason})")
        return reason is None

    def notice(self, message: str) -> None:
        """One line for the user (rank 0): above the progress bar while it runs."""
        if not self.info.is_main:
            return
        if self.bar is not None:
            self.bar.console.print(f"[yellow]{message}")
        else:
            print(message, file=sys.stderr)

    @property
    def run_dir(self) -> Path | None:
        return self.run_folder.path if self.run_folder is not None else None

    # --- checkpoints ---

    def _state(self) -> tuple[dict[str, Any], dict[str, torch.optim.Optimizer]]:
        modules = {**self.game.modules(), "rng": RandomState(self.info.device)}
        return modules, {f"opt_{p.name.lower()}": p.optimizer for p in self.players}

    def _restore(self) -> None:
        if self.run_folder is None:
            raise GankitError("resume needs the run folder to continue")
        modules, optimizers = self._state()
        record = checkpoint.restore_latest(self.run_folder.checkpoints, modules=modules, optimizers=optimizers)
        self.step, self.wall_seconds = record["step"], float(record.get("wall_seconds", 0.0))

    def save(self) -> Path | None:
        """A checkpoint of every module, optimizer and random stream at this step."""
        modules, optimizers = self._state()
        for name, module in modules.items():   # BatchNorm statistics differ per rank
            if isinstance(module, nn.Module):
                distributed.average_buffers(module, self.info.world_size)
        if self.run_folder is None or not self.info.is_main:
            return None
        for name, module in modules.items():
            if isinstance(module, nn.Module) and not all(torch.isfinite(p).all() for p in module.parameters()):
                raise TrainingDiverged(f"{name} has non-finite weights at step {self.step}; not saving. "
                                       f"{self.last_good()}")
        meta = {**self.game.checkpoint_meta(self.step), "wall_seconds": round(self.wall_seconds, 1)}
        return checkpoint.save_checkpoint(self.run_folder.checkpoints, self.step, modules=modules,
                                          optimizers=optimizers, meta=meta, keep=self.settings.keep_ckpts)

    def last_good(self) -> str:
        found = checkpoint.list_checkpoints(self.run_folder.checkpoints) if self.run_folder else []
        return f"Last good checkpoint: {found[-1]}" if found else "No checkpoint was written yet."

    # --- one step ---

    def train_step(self) -> dict[str, Tensor]:
        game, s = self.game, self.step
        if self.captured:
            capture.step_begins(self.info.device)
        seed = game.step_seed(s)
        if seed is not None:
            reseed(seed % 2**62, self.info.device)
        for p in self.players:   # schedules are functions of the step: nothing to save
            for group in p.optimizer.param_groups:
                capture.set_lr(group, game.lr_schedule(p.lr, s))
                if game.momentum_schedule is not None:
                    group["momentum"] = game.momentum_schedule(s)
        stats: dict[str, Tensor] = {}
        for phase in game.phases:
            with self._others_frozen(phase), phase.context():
                for j in range(phase.repeats):
                    stats.update(self.updates[phase.name](phase, s, j))
        if game.averages:
            self._average(s)
        if self.captured and self.info.device.type == "cuda":   # graph outputs are overwritten by the next replay
            stats = {k: v.clone() for k, v in stats.items()}
        game.end_step(s, stats)
        self.step += 1
        return stats

    def _average(self, s: int) -> None:
        for average, module in self.game.averages:
            average.update(module, s)

    def _update(self, phase: Phase, s: int, j: int) -> dict[str, Tensor]:
        loss, stats = self.game.loss(phase, s, j)
        losses = loss if isinstance(loss, dict) else {phase.players[0].name: loss}
        if len(phase.players) == 1:
            (p,) = phase.players
            p.optimizer.zero_grad(set_to_none=True)
            losses[p.name].backward()
        else:   # each player's gradient of its own loss only, all taken before any step
            for k, p in enumerate(phase.players):
                p.optimizer.zero_grad(set_to_none=True)
                params = [q for q in p.module.parameters() if q.requires_grad]
                grads = torch.autograd.grad(losses[p.name], params, retain_graph=k < len(phase.players) - 1,
                                            allow_unused=True)
                for q, g in zip(params, grads):
                    q.grad = g
        for p in phase.players:
            params = [q for q in p.module.parameters() if q.grad is not None]
            distributed.average_gradients(params, self.info.world_size)
            if p.log:
                stats[f"{p.name.lower()}_loss"] = losses[p.name].detach()
                stats[f"{p.name.lower()}_grad_norm"] = torch.nn.utils.get_total_norm([q.grad for q in params])
            p.optimizer.step()
        return stats

    @contextlib.contextmanager
    def _others_frozen(self, phase: Phase) -> Iterator[None]:
        """The other phases' players get no gradients (they are only evaluated through)."""
        mine = {id(p.module) for p in phase.players}
        others = {id(p.module): p.module for p in self.players if id(p.module) not in mine}
        params = [q for m in others.values() for q in m.parameters() if q.requires_grad]
        for q in params:
            q.requires_grad_(False)
        try:
            yield
        finally:
            for q in params:
                q.requires_grad_(True)

    # --- logging ---

    def _flush(self, pending: list[tuple[int, dict[str, Tensor]]], partial: bool = False) -> None:
        """One device sync per log interval: move the stats, check them, hand them to the game."""
        if not pending:
            return
        keys = list(pending[0][1])
        shapes = [pending[0][1][k].shape for k in keys]
        flat = torch.stack([torch.cat([row[k].detach().float().reshape(-1) for k in keys]) for _, row in pending])
        rows = []
        for (step, _), values in zip(pending, flat.tolist()):
            row, at = {"step": step}, 0
            for key, shape in zip(keys, shapes):
                size = math.prod(shape)
                row[key] = values[at] if len(shape) == 0 else values[at:at + size]
                at += size
            rows.append(row)
        pending.clear()
        for row in rows:
            bad = [k for k in keys if not all(math.isfinite(v) for v in _numbers(row[k]))]
            if bad:
                raise TrainingDiverged(
                    f"{', '.join(bad)} became {row[bad[0]]} at step {row['step']}; training stopped. "
                    f"{self.last_good()} Try a lower learning rate or another objective.")
        if self.info.is_main:
            self.game.record(rows, self, partial)

    def run(self, progress: bool = True, callbacks: Sequence[Callable[[int, "Trainer"], None]] = ()) -> LoopResult:
        """Train to the last step (or until stopped); callbacks get (step, trainer) after every step."""
        st, started = self.settings, time.monotonic()
        wall_before, saved_at = self.wall_seconds, started
        pending: list[tuple[int, dict[str, Tensor]]] = []
        for p in self.players:
            p.module.train()
        try:
            with stop_on_signal() as stop, ProgressBar(st.steps, self.step, progress and self.info.is_main,
                                                       st.label, self.run_dir) as bar:
                self.bar = bar
                while self.step < st.steps:
                    pending.append((self.step + 1, self.train_step()))
                    self.wall_seconds = wall_before + time.monotonic() - started
                    bar.advance()
                    last = self.step == st.steps
                    at_log = self.step % st.log_every == 0 or last
                    out_of_time = st.max_minutes is not None and self.wall_seconds - wall_before > 60 * st.max_minutes
                    if at_log or self.info.world_size == 1:  # a collective: every rank decides together
                        self.interrupted = distributed.any_rank(stop.is_set() or out_of_time, self.info)
                    if at_log or self.interrupted:
                        self._flush(pending, partial=not at_log)
                    if at_log and not last and self.game.done(self.step):
                        last = True   # the game has what it came for: a finished run, saved as one
                    due = st.ckpt_every is not None and self.step % st.ckpt_every == 0
                    due = due or (at_log and st.ckpt_minutes is not None
                                  and time.monotonic() - saved_at >= 60 * st.ckpt_minutes)
                    if due or last or self.interrupted:
                        self.save()
                        saved_at = time.monotonic()
                    self.ending = last or self.interrupted   # callbacks draw their last pictures now
                    for callback in callbacks:
                        callback(self.step, self)
                    if self.ending:
                        break
                if self.interrupted and self.info.is_main:
                    hint = st.resume_command.format(run=self.run_dir)
                    bar.console.print(f"[yellow]Stopped at step {self.step} of {st.steps}"
                                      + (f"; resume with: {hint}" if hint else ""))
        finally:
            self.bar = None
        return LoopResult(self.step, self.interrupted, self.wall_seconds, self.run_dir)


def _numbers(value) -> list[float]:
    return value if isinstance(value, list) else [value]


class RandomState:
    """torch's CPU random state and the device's, saved with every checkpoint and restored on resume."""

    def __init__(self, device: torch.device):
        self.device = device

    def state_dict(self) -> dict[str, Tensor]:
        state = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if "cpu" in state:
            torch.set_rng_state(state["cpu"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)
