"""Fit a (differentially private) conditional tabular GAN and draw synthetic rows from it.

    from gankit.privacy import SynthConfig, fit, load_example
    train, holdout = load_example("breast-cancer")
    model = fit(train, SynthConfig(epsilon=1.0, delta=1e-5))
    synthetic = model.sample(10_000)            # a Table; synthetic.to_csv("synthetic.csv")
    model.save("model/")

The game follows Beaulieu-Jones et al. 2019 (a private AC-GAN for clinical records):
the discriminator alone reads real rows and is trained with DP-SGD (gankit.privacy.dp);
the generator only ever sees the discriminator.
"""

from __future__ import annotations

import json
import math
import platform
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.errors import ConfigError, GankitError
from gankit.privacy.dp import Ledger, calibrate_noise, check_private_compatible, counts_noise, \
    make_private_discriminator
from gankit.privacy.schema import Schema, Table
from gankit.privacy.tablegan import TableDiscriminator, TableGenerator, d_rows_loss, g_loss
from gankit.privacy.transform import TableEncoder

MODEL_FORMAT = 1
MAX_CLASSES = 20


@dataclass
class SynthConfig:
    """Settings of one fit. ``epsilon=math.inf`` trains without DP (for comparison)."""

    epsilon: float = 1.0          # target privacy budget; the spent one is read back from the accountant
    delta: float = 1e-5           # keep it well below 1 / number of training rows
    steps: int = 400              # discriminator (= generator) steps (the benchmarked setting)
    batch_size: int = 64          # expected real rows per step (Poisson sampling) = generated rows per step
    max_grad_norm: float = 1.0    # per-sample clipping bound C
    prior_share: float = 0.1      # share of epsilon (alone) for the noisy class counts
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    hidden: int = 64
    z_dim: int = 32
    modes: int = 5                # fixed-grid modes per numeric column (transform.py); 1 = min-max
    accountant: str = "rdp"       # rdp or prv
    seed: int = 0                 # also seeds the DP noise: reproducible runs; keep it secret for a real release

    def check(self, n_rows: int) -> None:
        if not (self.epsilon > 0):
            raise ConfigError(f"epsilon must be > 0 (or inf for no privacy), got {self.epsilon}")
        if not (0 < self.delta < 1):
            raise ConfigError(f"delta must be in (0, 1), got {self.delta}")
        if math.isfinite(self.epsilon) and self.delta >= 1 / n_rows:
            raise ConfigError(f"delta={self.delta:g} is not below 1/n = {1 / n_rows:.3g} for {n_rows} training "
                              f"rows; such a delta allows publishing a whole record")
        for name in ("steps", "batch_size", "hidden", "z_dim", "modes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size >= n_rows:
            raise ConfigError(f"batch_size {self.batch_size} must be below the {n_rows} training rows")
        if not (0 < self.prior_share < 1):
            raise ConfigError(f"prior_share must be in (0, 1), got {self.prior_share}")

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)


class Synthesizer:
    """A fitted generator with its schema, encoder, class prior and privacy ledger."""

    def __init__(self, schema: Schema, config: SynthConfig, generator: TableGenerator, class_prior: np.ndarray,
                 privacy: dict, n_train: int, source: dict | None = None):
        self.schema, self.config, self.generator = schema, config, generator
        self.encoder = TableEncoder(schema, config.modes)
        self.class_prior, self.privacy, self.n_train = class_prior, privacy, n_train
        self.source = source or {}

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
                  "privacy": self.privacy, "n_train": self.n_train, "source": self.source}
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
        config.epsilon = float(config.epsilon)  # "inf" in JSON
        schema = Schema.from_dict(record["schema"], str(meta_path))
        encoder = TableEncoder(schema, config.modes)
        n_classes = len(schema.column(schema.target).categories)
        gen = TableGenerator(encoder.spans, n_classes, z_dim=config.z_dim, hidden=config.hidden)
        gen.load_state_dict(load_file(str(folder / "generator.safetensors")))
        return cls(schema, config, gen, np.array(record["class_prior"]), record["privacy"], record["n_train"],
                   record.get("source"))


def _config_dict(config: SynthConfig) -> dict:
    values = asdict(config)
    values["epsilon"] = "inf" if math.isinf(config.epsilon) else config.epsilon  # JSON has no infinity
    return values


def config_from_dict(values: dict) -> SynthConfig:
    known = {f.name for f in fields(SynthConfig)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return SynthConfig(**values)


def noisy_class_prior(codes: np.ndarray, n_classes: int, sigma: float | None, rng: np.random.Generator
                      ) -> np.ndarray:
    """Class frequencies; with ``sigma``, the counts get N(0, sigma^2) noise first (sensitivity 1)."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    if sigma is not None:
        counts = counts + rng.normal(0.0, sigma, n_classes)
    counts = np.maximum(counts, 1.0)
    return counts / counts.sum()


def fit(train: Table, config: SynthConfig | None = None, *, on_step: Callable[[int, dict], None] | None = None,
        discriminator: torch.nn.Module | None = None) -> Synthesizer:
    """Train the conditional GAN on ``train`` (a Table whose schema names a target).

    ``discriminator`` replaces the default net (it must map an encoded row to
    (logit, class logits)); with a finite epsilon it must be DP-compatible (no BatchNorm).
    """
    config = config or SynthConfig()
    schema = train.schema
    if schema.target is None:
        raise ConfigError("the table has no target column; give --target COLUMN")
    n_classes = len(schema.column(schema.target).categories)
    if n_classes > MAX_CLASSES:
        raise ConfigError(f"target {schema.target!r} has {n_classes} classes; at most {MAX_CLASSES} are supported")
    n = len(train)
    config.check(n)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    encoder = TableEncoder(schema, config.modes)
    x_all = torch.from_numpy(encoder.encode(train))
    y_all = torch.from_numpy(train.target_codes())
    gen = TableGenerator(encoder.spans, n_classes, z_dim=config.z_dim, hidden=config.hidden)
    disc = discriminator if discriminator is not None else TableDiscriminator(encoder.width, n_classes,
                                                                              hidden=config.hidden)
    if config.private:
        check_private_compatible(disc)
    q = config.batch_size / n
    ledger = Ledger(config.delta, config.accountant)
    sigma_prior = counts_noise(config.prior_share * config.epsilon, config.delta, config.accountant) \
        if config.private else None
    prior = noisy_class_prior(y_all.numpy(), n_classes, sigma_prior, rng)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_d, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr_g, betas=(0.5, 0.9))
    sigma = None
    if config.private:
        ledger.record(sigma_prior, 1.0)
        sigma = calibrate_noise(epsilon=config.epsilon, delta=config.delta, sample_rate=q, steps=config.steps,
                                before=ledger.history, accountant=config.accountant)
        disc, opt_d = make_private_discriminator(module=disc, optimizer=opt_d, noise_multiplier=sigma,
                                                 max_grad_norm=config.max_grad_norm,
                                                 expected_batch_size=2 * config.batch_size)
    prior_t = torch.as_tensor(prior, dtype=torch.float64)
    # Opacus' backward hooks make torch warn that the (generated, detached) inputs need no gradient.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        for step in range(1, config.steps + 1):
            d_loss = _d_step(disc, gen, opt_d, x_all, y_all, q, config.batch_size, prior_t)
            if config.private:
                ledger.record(sigma, q)
            gl = _g_step(disc, gen, opt_g, config.batch_size, prior_t, config.private)
            if on_step is not None:  # losses go to the operator's screen, never into the saved model
                on_step(step, {"d_loss": d_loss, "g_loss": gl})
    privacy = {"epsilon_target": config.epsilon if config.private else "inf", "delta": config.delta,
               "epsilon_spent": ledger.spent() if config.private else "inf", "noise_multiplier": sigma,
               "prior_noise_multiplier": sigma_prior, "sample_rate": q, "steps": config.steps,
               "max_grad_norm": config.max_grad_norm if config.private else None,
               "ledger": ledger.to_dict(), "schema_declared": schema.declared}
    return Synthesizer(schema, config, gen, prior, privacy, n)


def _d_step(disc, gen, opt_d, x_all, y_all, q, m, prior) -> float:
    """One discriminator step on a Poisson batch of real rows plus ``m`` generated rows.

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
    take = torch.rand(len(x_all)) < q
    x_real, y_real = x_all[take], y_all[take]
    y_fake = torch.multinomial(prior, m, True)
    with torch.no_grad():
        x_fake = gen(gen.noise(m), y_fake)
    x = torch.cat([x_real, x_fake])
    y = torch.cat([y_real, y_fake])
    is_real = torch.cat([torch.ones(len(x_real)), torch.zeros(m)])
    opt_d.zero_grad(set_to_none=True)
    adv, cls = disc(x)
    loss = d_rows_loss(adv, cls, is_real, y).mean()
    loss.backward()
    opt_d.step()
    return float(loss.detach())


def _g_step(disc, gen, opt_g, m, prior, private: bool) -> float:
    y = torch.multinomial(prior, m, True)
    if private:
        disc.disable_hooks()  # G's step needs D's input gradient, not per-sample gradients of D
    try:
        adv, cls = disc(gen(gen.noise(m), y))
        loss = g_loss(adv, cls, y)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
    finally:
        if private:
            disc.enable_hooks()
    return float(loss.detach())
