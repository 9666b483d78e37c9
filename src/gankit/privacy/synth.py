"""Fit a (differentially private) conditional tabular GAN and draw synthetic rows from it.

    from gankit.privacy import SynthConfig, fit, load_example
    train, holdout = load_example("breast-cancer")
    model = fit(train, SynthConfig(epsilon=1.0, delta=1e-5))
    synthetic = model.sample(10_000)            # a Table; synthetic.to_csv("synthetic.csv")
    model.save("model/")

The game follows Beaulieu-Jones et al. 2019 (a private AC-GAN for clinical records):
the discriminator alone reads real rows and is trained with DP-SGD (gankit.privacy.dp);
the generator only ever sees the discriminator.

Missing values (schema.py, transform.py): the generator learns which cells are missing
along with the rest of the row, but a small DP GAN matches marginal shares only roughly.
So the one noisy release of class counts also carries, for each column that may be
missing, its count of missing cells, and after training the generator's "missing"
logits are shifted so that its expected missing share per column is the released one
(``calibrate_missing``): post-processing of DP releases, no extra privacy cost.
"""

from __future__ import annotations

import json
import math
import platform
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.config import RECIPES_DIR as GAN_RECIPES, from_dict, load_recipe, read_run_config
from gankit.errors import ConfigError, GankitError
from gankit.loop import Game, LoopSettings, Phase, Player, Trainer
from gankit.privacy.dp import BudgetTooSmall, Ledger, calibrate_noise, check_private_compatible, counts_noise, \
    make_private_discriminator, smallest_reachable_epsilon
from gankit.privacy.schema import Schema, Table
from gankit.privacy.tablegan import TableDiscriminator, TableGenerator, d_rows_loss, g_loss
from gankit.privacy.transform import TableEncoder
from gankit.runs import RunFolder

MODEL_FORMAT = 1
MAX_CLASSES = 20
RECIPES_DIR = GAN_RECIPES / "synth"


class FitInterrupted(GankitError):
    """The fit was stopped (Ctrl-C, SIGTERM) before its last step: no model was made."""


@dataclass
class SynthConfig:
    """Settings of one fit (a recipe in gankit/configs/synth/ maps onto it one-to-one).

    ``epsilon=math.inf`` trains without DP (for comparison)."""

    name: str = "synth"
    description: str = ""
    epsilon: float = field(default=1.0, metadata={"allow_inf": True})  # target privacy budget; the spent
                                  # one is read back from the accountant
    delta: float = 1e-5           # keep it well below 1 / number of training rows
    steps: int = 400              # discriminator (= generator) steps (the benchmarked setting)
    batch_size: int = 64          # expected real rows per step (Poisson sampling) = generated rows per step
    max_grad_norm: float = 1.0    # per-sample clipping bound C
    prior_share: float = 0.1      # share of epsilon (alone) for the noisy counts: classes, missing cells
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    hidden: int = 64
    z_dim: int = 32
    modes: int = 5                # fixed-grid modes per numeric column (transform.py); 1 = min-max
    accountant: Literal["rdp", "prv"] = "rdp"
    seed: int = 0                 # also seeds the DP noise: reproducible runs; keep it secret for a real release

    def check(self) -> None:
        errors = []
        if not (self.epsilon > 0):
            errors.append(f"epsilon: must be > 0 (or inf for no privacy), got {self.epsilon}")
        if not (0 < self.delta < 1):
            errors.append(f"delta: must be in (0, 1), got {self.delta}")
        for name in ("steps", "batch_size", "hidden", "z_dim", "modes"):
            if getattr(self, name) < 1:
                errors.append(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("max_grad_norm", "lr_d", "lr_g"):
            if not getattr(self, name) > 0:
                errors.append(f"{name}: must be > 0, got {getattr(self, name)}")
        if not (0 < self.prior_share < 1):
            errors.append(f"prior_share: must be in (0, 1), got {self.prior_share}")
        if errors:  # one line: the CLI prints it as one
            raise ConfigError("invalid synth configuration: " + "; ".join(errors))

    def check_rows(self, n_rows: int) -> None:
        """What depends on the training table's size."""
        self.check()
        if math.isfinite(self.epsilon) and self.delta >= 1 / n_rows:
            raise ConfigError(f"delta={self.delta:g} is not below 1/n = {1 / n_rows:.3g} for {n_rows} training "
                              f"rows; such a delta allows publishing a whole record")
        if self.batch_size >= n_rows:
            raise ConfigError(f"batch_size {self.batch_size} must be below the {n_rows} training rows")

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)


class Synthesizer:
    """A fitted generator with its schema, encoder, class prior and privacy ledger."""

    def __init__(self, schema: Schema, config: SynthConfig, generator: TableGenerator, class_prior: np.ndarray,
                 privacy: dict, n_train: int, source: dict | None = None, missing: dict | None = None):
        self.schema, self.config, self.generator = schema, config, generator
        self.encoder = TableEncoder(schema, config.modes)
        self.class_prior, self.privacy, self.n_train = class_prior, privacy, n_train
        self.source = source or {}
        # per column that may be missing: the released (noisy) missing share and the logit shift that matches it
        self.missing = missing or {}
        set_logit_shifts(generator, self.encoder, {c: m["logit_shift"] for c, m in self.missing.items()})

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> Table:
        """``n`` synthetic rows; classes drawn from the (noisy) class prior, then G(z, class)."""
        if n < 1:
            raise GankitError(f"-n must be >= 1, got {n}")
        g = torch.Generator().manual_seed(seed)
        y = torch.multinomial(torch.as_tensor(self.class_prior, dtype=torch.float64), n, True, generator=g)
        self.generator.eval()
        x = self.generator(self.generator.noise(n, g), y, hard=True, generator=g).numpy()
        data = self.encoder.decode(x)
        target = self.schema.column(self.schema.target)
        data[target.name] = np.array(target.categories, dtype=object)[y.numpy()]
        return Table(self.schema, {c: data[c] for c in self.schema.names})

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.generator.state_dict().items()}
        save_file(state, str(folder / "generator.safetensors"))
        record = {"format": MODEL_FORMAT, "gankit": __version__, "torch": torch.__version__,
                  "python": platform.python_version(), "config": _config_dict(self.config),
                  "schema": self.schema.to_dict(), "class_prior": self.class_prior.tolist(),
                  "privacy": self.privacy, "n_train": self.n_train, "source": self.source,
                  **({"missing": self.missing} if self.missing else {})}
        atomic_write_text(folder / "model.json", json.dumps(record, indent=1))  # written last: the commit marker
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Synthesizer:
        folder = Path(folder)
        meta_path = folder / "model.json"
        if not meta_path.is_file() or not (folder / "generator.safetensors").is_file():
            raise GankitError(f"{folder} is not a gankit synth model (need model.json and generator.safetensors; "
                              f"make one with `gankit synth fit`)")
        record = json.loads(meta_path.read_text())
        if record.get("format") != MODEL_FORMAT:
            raise GankitError(f"{meta_path}: model format {record.get('format')} is not supported")
        config = config_from_dict(record["config"])
        schema = Schema.from_dict(record["schema"], str(meta_path))
        encoder = TableEncoder(schema, config.modes)
        n_classes = len(schema.column(schema.target).categories)
        gen = TableGenerator(encoder.spans, n_classes, z_dim=config.z_dim, hidden=config.hidden)
        gen.load_state_dict(load_file(str(folder / "generator.safetensors")))
        return cls(schema, config, gen, np.array(record["class_prior"]), record["privacy"], record["n_train"],
                   record.get("source"), record.get("missing"))


def _config_dict(config: SynthConfig) -> dict:
    values = asdict(config)
    values["epsilon"] = "inf" if math.isinf(config.epsilon) else config.epsilon  # JSON has no infinity
    return values


def config_from_dict(values: dict) -> SynthConfig:
    """A SynthConfig from a model record or recipe dict, with the checks of every config."""
    config = from_dict(SynthConfig, values)
    config.check()
    return config


def load_synth_config(recipe: str | None = "dp_acgan", overrides: Sequence[str] = ()) -> SynthConfig:
    """A synth recipe (built-in name or YAML path) with ``key=value`` overrides."""
    return load_recipe(SynthConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="synth recipe")


def read_synth_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> SynthConfig:
    """The config of a fit's run folder (RUN/config.yaml), with overrides."""
    return read_run_config(run_dir, SynthConfig, overrides)


def noisy_counts(codes: np.ndarray, n_classes: int, missing: np.ndarray, sigma: float | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class frequencies and the missing share of each column of ``missing`` (rows x d columns, bool),
    from one Gaussian release of the class counts and the columns' counts of missing cells.

    A record moves one class count by 1 and each missing count by at most 1. With noise std s_c on
    class counts and s_m on missing counts, the release is a Gaussian mechanism with noise multiplier
    ``sigma`` when 1/s_c^2 + d/s_m^2 = 1/sigma^2: s_c = sigma sqrt(2) and s_m = sigma sqrt(2d) give the
    class counts half of that precision, so many columns with gaps do not drown the class prior. It
    costs what the class counts alone at noise ``sigma`` cost (d = 0 is exactly that release). None:
    exact counts."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    missing_counts = missing.sum(axis=0).astype(np.float64)
    if sigma is not None:
        d = missing.shape[1]
        counts = counts + rng.normal(0.0, sigma * math.sqrt(2) if d else sigma, n_classes)
        missing_counts = missing_counts + rng.normal(0.0, sigma * math.sqrt(2 * d), d)
    counts = np.maximum(counts, 1.0)
    return counts / counts.sum(), np.clip(missing_counts / counts.sum(), 0.0, 1.0)


@torch.no_grad()
def calibrate_missing(generator: TableGenerator, encoder: TableEncoder, class_prior: np.ndarray,
                      rates: dict[str, float], seed: int, n: int = 4096) -> dict[str, float]:
    """Per column, the shift of the generator's "missing" logit that makes its expected missing share
    (over ``n`` draws of z and class) equal ``rates``. Hard Gumbel-softmax sampling picks "missing"
    with probability softmax(logits)[missing], which rises with the shift: a bisection finds it."""
    if not rates:
        return {}
    g = torch.Generator().manual_seed(seed)
    y = torch.multinomial(torch.as_tensor(class_prior, dtype=torch.float64), n, True, generator=g)
    raw = generator.logits(generator.noise(n, g), y) - generator.logit_shift  # shifts from scratch
    shifts = {}
    for name, (start, width, index) in encoder.missing_slots().items():
        logits, lo, hi = raw[:, start:start + width].double(), -30.0, 30.0
        for _ in range(40):
            mid = (lo + hi) / 2
            share = (logits + mid * F.one_hot(torch.tensor(index), width)).softmax(1)[:, index].mean()
            lo, hi = (mid, hi) if share < rates[name] else (lo, mid)
        shifts[name] = (lo + hi) / 2
    return shifts


def set_logit_shifts(generator: TableGenerator, encoder: TableEncoder, shifts: dict[str, float]) -> None:
    """Put each column's shift on its "missing" logit (the rest stay 0)."""
    shift = torch.zeros_like(generator.logit_shift)
    for name, (start, _, index) in encoder.missing_slots().items():
        shift[start + index] = shifts.get(name, 0.0)
    generator.logit_shift.copy_(shift)


def noise_levels(config: SynthConfig, sample_rate: float) -> tuple[float, float]:
    """(class-count noise, DP-SGD noise): the counts alone spend ``prior_share`` of epsilon, counts and
    steps together epsilon. An epsilon out of reach is a ConfigError naming the smallest reachable one."""
    try:
        counts = counts_noise(config.prior_share * config.epsilon, config.delta, config.accountant)
        return counts, calibrate_noise(epsilon=config.epsilon, delta=config.delta, sample_rate=sample_rate,
                                       steps=config.steps, before=[(counts, 1.0, 1)], accountant=config.accountant)
    except BudgetTooSmall:
        floor = smallest_reachable_epsilon(delta=config.delta, sample_rate=sample_rate, steps=config.steps,
                                           prior_share=config.prior_share, accountant=config.accountant,
                                           start=config.epsilon)
    raise ConfigError(f"epsilon={config.epsilon:g} is out of reach: with delta={config.delta:g}, prior_share="
                      f"{config.prior_share:g} and {config.steps} DP-SGD steps at sample rate {sample_rate:.3g} "
                      f"the smallest epsilon the {config.accountant} accountant can reach is {floor:.3g}; raise "
                      f"--epsilon (or --delta)")


class DPTableGame(Game):
    """The conditional tabular GAN as a game: D's phase on real + generated rows (DP-SGD), then G's.

    Opacus wraps D and its optimizer when the game is built; the privacy ledger counts every
    DP-SGD step through the optimizer's step hook (as Opacus attaches its own accountant).
    """

    def __init__(self, train: Table, config: SynthConfig, discriminator: torch.nn.Module | None = None):
        schema = train.schema
        if schema.target is None:
            raise ConfigError("the table has no target column; give --target COLUMN")
        n_classes = len(schema.column(schema.target).categories)
        if n_classes > MAX_CLASSES:
            raise ConfigError(f"target {schema.target!r} has {n_classes} classes; at most {MAX_CLASSES} are "
                              f"supported")
        n = len(train)
        config.check_rows(n)
        self.schema, self.config, self.n_train = schema, config, n
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        encoder = self.encoder = TableEncoder(schema, config.modes)
        self.x_all = torch.from_numpy(encoder.encode(train))
        self.y_all = torch.from_numpy(train.target_codes())
        self.G = TableGenerator(encoder.spans, n_classes, z_dim=config.z_dim, hidden=config.hidden)
        disc = discriminator if discriminator is not None else TableDiscriminator(encoder.width, n_classes,
                                                                                  hidden=config.hidden)
        if config.private:
            check_private_compatible(disc)
        self.q = config.batch_size / n
        self.ledger = Ledger(config.delta, config.accountant)
        self.sigma_prior, self.sigma = noise_levels(config, self.q) if config.private else (None, None)
        self.missing_columns = schema.missing_columns()
        missing = np.stack([schema.column(c).is_missing(train.data[c]) for c in self.missing_columns], axis=1) \
            if self.missing_columns else np.zeros((n, 0), dtype=bool)
        self.prior, self.missing_rates = noisy_counts(self.y_all.numpy(), n_classes, missing, self.sigma_prior, rng)
        self.prior_t = torch.as_tensor(self.prior, dtype=torch.float64)
        opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_d, betas=(0.5, 0.9))
        opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=(0.5, 0.9))
        if config.private:
            self.ledger.record(self.sigma_prior, 1.0)
            disc, opt_d = make_private_discriminator(module=disc, optimizer=opt_d, noise_multiplier=self.sigma,
                                                     max_grad_norm=config.max_grad_norm,
                                                     expected_batch_size=2 * config.batch_size)
            opt_d.attach_step_hook(lambda _: self.ledger.record(self.sigma, self.q))
        self.D = disc
        # D's loss reads real rows: logged only without privacy (G's loss reads D alone: post-processing)
        self.phases = [Phase("D", (Player("D", disc, opt_d, config.lr_d, log=not config.private),),
                             context=_quiet_hooks),
                       Phase("G", (Player("G", self.G, opt_g, config.lr_g),), context=self._d_hooks_off)]

    def modules(self) -> dict:
        return {"G": self.G, "D": self.D, "ledger": self.ledger}

    def checkpoint_meta(self, step: int) -> dict:
        return {"config": _config_dict(self.config)}

    def loss(self, phase: Phase, step: int, repeat: int):
        m = self.config.batch_size
        return (self._d_loss(m), {}) if phase.name == "D" else (self._g_loss(m), {})

    def _d_loss(self, m: int) -> torch.Tensor:
        """D's loss on a Poisson batch of real rows plus ``m`` generated rows.

        Privacy note. Real and generated rows go through D in ONE forward pass and one
        backward, so Opacus computes one per-sample gradient per row and clips each to C.
        A real record enters exactly one row; the generated rows depend only on G, which
        is itself a function of earlier (already private) releases, and their number ``m``
        is fixed (not the random real count), so two neighbouring datasets give the same
        generated rows. The L2 sensitivity of the clipped sum is therefore C, and the
        noise N(0, sigma^2 C^2) makes each step the subsampled Gaussian mechanism that the
        accountant counts with sample rate q. (Opacus' dcgan.py instead sums the real and
        fake gradient of sample i before clipping; both bound a record's effect by C.)
        An empty real batch is fine: the generated rows keep the batch non-empty.
        """
        take = torch.rand(len(self.x_all)) < self.q
        x_real, y_real = self.x_all[take], self.y_all[take]
        y_fake = torch.multinomial(self.prior_t, m, True)
        with torch.no_grad():
            x_fake = self.G(self.G.noise(m), y_fake)
        x = torch.cat([x_real, x_fake])
        y = torch.cat([y_real, y_fake])
        is_real = torch.cat([torch.ones(len(x_real)), torch.zeros(m)])
        adv, cls = self.D(x)
        return d_rows_loss(adv, cls, is_real, y).mean()

    def _g_loss(self, m: int) -> torch.Tensor:
        y = torch.multinomial(self.prior_t, m, True)
        adv, cls = self.D(self.G(self.G.noise(m), y))
        return g_loss(adv, cls, y)

    @contextmanager
    def _d_hooks_off(self) -> Iterator[None]:
        """G's step needs D's input gradient, not per-sample gradients of D."""
        if not self.config.private:
            yield
            return
        self.D.disable_hooks()
        try:
            yield
        finally:
            self.D.enable_hooks()

    def synthesizer(self) -> Synthesizer:
        """The fitted model with its privacy record (call after training)."""
        c = self.config
        privacy = {"epsilon_target": c.epsilon if c.private else "inf", "delta": c.delta,
                   "epsilon_spent": self.ledger.spent() if c.private else "inf", "noise_multiplier": self.sigma,
                   "prior_noise_multiplier": self.sigma_prior, "sample_rate": self.q, "steps": c.steps,
                   "max_grad_norm": c.max_grad_norm if c.private else None,
                   "ledger": self.ledger.to_dict(), "schema_declared": self.schema.declared,
                   "missing_counts_released": self.missing_columns}
        rates = dict(zip(self.missing_columns, self.missing_rates.tolist()))
        shifts = calibrate_missing(self.G, self.encoder, self.prior, rates, c.seed)
        missing = {name: {"released_rate": rates[name], "logit_shift": shifts[name]} for name in rates}
        return Synthesizer(self.schema, c, self.G, self.prior, privacy, self.n_train, missing=missing)


@contextmanager
def _quiet_hooks() -> Iterator[None]:
    # Opacus' backward hooks make torch warn that the (generated, detached) inputs need no gradient.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def fit(train: Table, config: SynthConfig | None = None, *, run_dir: str | Path | None = None,
        resume: bool = False, progress: bool = False, discriminator: torch.nn.Module | None = None) -> Synthesizer:
    """Train the conditional GAN on ``train`` (a Table whose schema names a target).

    ``run_dir``: a run folder for checkpoints and the training log (Ctrl-C saves, ``resume``
    continues exactly); None trains in memory. ``discriminator`` replaces the default net (it
    must map an encoded row to (logit, class logits)); with a finite epsilon it must be
    DP-compatible (no BatchNorm).
    """
    config = config or SynthConfig()
    game = DPTableGame(train, config, discriminator)
    run = RunFolder(run_dir, resume=resume) if run_dir is not None else None
    try:  # the run folder holds the checkpoints and the log; the model is saved elsewhere (Synthesizer.save)
        if run is not None:
            run.write_config(_config_dict(config))
            if not resume:
                run.write_meta(config.seed, "cpu", rows=len(train))
        settings = LoopSettings(steps=config.steps, log_every=10,
                                ckpt_minutes=5.0 if run is not None else None, keep_ckpts=2, label="fit",
                                resume_command="gankit synth fit ... --resume {run}")
        result = Trainer(game, run, settings, resume=resume).run(progress=progress)
    finally:
        if run is not None:
            run.release()
    if result.interrupted:
        raise FitInterrupted(f"stopped at step {result.step} of {config.steps}; nothing was written to the model"
                             + (f"; resume with --resume {run.path}" if run is not None else ""))
    return game.synthesizer()
