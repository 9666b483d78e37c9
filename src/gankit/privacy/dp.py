"""DP-SGD for the discriminator through Opacus, and the privacy ledger of one fit.

Only the discriminator touches real rows, so only it is made private (as in Opacus'
``examples/dcgan.py`` and Beaulieu-Jones et al. 2019): Poisson-sampled batches,
per-sample gradient clipping and Gaussian noise (Abadi et al. 2016). The generator
learns from the noisy discriminator alone, so by post-processing it carries the
same (epsilon, delta).

Besides the SGD steps a fit makes one more release: the class counts of the target
column, with Gaussian noise (sensitivity 1: a record adds 1 to one count), and with
them the counts of missing cells of columns that may be missing, noised so that the
whole vector is one Gaussian mechanism at the same noise multiplier (synth.noisy_counts).
Both go through the same Opacus accountant; a counts release is a step with sample rate 1.
``calibrate_noise`` picks the SGD noise multiplier so that the whole history spends
the target epsilon; ``Ledger.spent`` reads the epsilon back from the accountant.

A target epsilon can be out of reach: even a huge noise multiplier leaves an epsilon
floor (for RDP about log(1/delta) / (largest order - 1)). The searches stop at
``MAX_NOISE`` and raise ``BudgetTooSmall``; ``smallest_reachable_epsilon`` says where
the floor of a fit lies.
"""

from __future__ import annotations

import math
import warnings

import torch
from opacus import GradSampleModule
from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer
from opacus.validators import ModuleValidator
from torch import nn

from gankit.errors import ConfigError, GankitError

ACCOUNTANTS = ("rdp", "prv")
# Opacus' default RDP orders stop at 63, which floors a single release at epsilon ~ log(1/delta)/62
# (0.19 at delta=1e-5); small budgets and heavily noised releases need higher orders.
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 96, 128, 192, 256, 384, 512, 768, 1024]
MAX_NOISE = 1e6  # the noise-multiplier searches give up above this (as Opacus' get_noise_multiplier does)


class BudgetTooSmall(ConfigError):
    """No noise multiplier up to MAX_NOISE brings the releases down to the target epsilon."""


def _extra(accountant: str) -> dict:
    return {"alphas": ALPHAS} if accountant == "rdp" else {}


def check_private_compatible(module: nn.Module, name: str = "discriminator") -> None:
    """Refuse modules that DP-SGD cannot clip per sample (BatchNorm mixes the samples of a batch)."""
    norms = [n for n, m in module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if norms:
        raise GankitError(f"the {name} contains BatchNorm ({', '.join(norms)}); with a finite epsilon "
                          f"per-sample gradients are required and BatchNorm mixes samples. Use LayerNorm, "
                          f"GroupNorm or no normalization, or train with epsilon=inf (no privacy)")
    errors = ModuleValidator.validate(module, strict=False)
    if errors:
        raise GankitError(f"the {name} cannot be trained with DP-SGD: " + "; ".join(map(str, errors)))


def make_private_discriminator(*, module: nn.Module, optimizer: torch.optim.Optimizer, noise_multiplier: float,
                               max_grad_norm: float, expected_batch_size: int,
                               generator: torch.Generator | None = None) -> tuple[GradSampleModule, DPOptimizer]:
    """Wrap D and its optimizer for DP-SGD; always returns (private module, private optimizer).

    ``expected_batch_size`` is the expected number of rows per D step (real + generated);
    it must not depend on the data, since the mean divides by it."""
    check_private_compatible(module)
    owned = {id(p) for p in module.parameters()}
    if any(id(p) not in owned for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("the optimizer holds parameters that are not the discriminator's")
    private = GradSampleModule(module, loss_reduction="mean", strict=True)
    dp_opt = DPOptimizer(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                         expected_batch_size=expected_batch_size, loss_reduction="mean", generator=generator)
    return private, dp_opt


def _epsilon(history: list[tuple[float, float, int]], delta: float, accountant: str) -> float:
    acc = create_accountant(accountant)
    acc.history = list(history)
    return float(acc.get_epsilon(delta=delta, **_extra(accountant)))


def _opacus_noise(**kwargs) -> float:
    """Opacus' noise-multiplier search, with its "budget too low" ValueError as BudgetTooSmall."""
    try:
        return float(get_noise_multiplier(**kwargs))
    except ValueError as exc:
        if "too low" not in str(exc):
            raise
        raise BudgetTooSmall(f"epsilon={kwargs['target_epsilon']:g} is out of reach at delta="
                             f"{kwargs['target_delta']:g}") from None


def counts_noise(epsilon: float, delta: float, accountant: str = "rdp") -> float:
    """Noise multiplier of one Gaussian release of class counts that alone would spend ``epsilon``."""
    return _opacus_noise(target_epsilon=epsilon, target_delta=delta, sample_rate=1.0, steps=1,
                         accountant=accountant, **_extra(accountant))


def calibrate_noise(*, epsilon: float, delta: float, sample_rate: float, steps: int,
                    before: list[tuple[float, float, int]] = (), accountant: str = "rdp",
                    tolerance: float = 0.01) -> float:
    """The smallest SGD noise multiplier (within ``tolerance`` in epsilon) such that the
    releases ``before`` followed by ``steps`` steps at ``sample_rate`` spend at most ``epsilon``.
    With nothing before, this is ``opacus.accountants.utils.get_noise_multiplier``.
    RDP uses the orders ``ALPHAS`` here and when the ledger reads epsilon back."""
    if not before:
        return _opacus_noise(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, steps=steps,
                             accountant=accountant, epsilon_tolerance=tolerance, **_extra(accountant))
    history = list(before)
    if _epsilon(history, delta, accountant) >= epsilon:
        raise BudgetTooSmall("the class-count release alone spends the whole epsilon; lower prior_share")
    lo, hi = 0.0, 10.0
    while _epsilon(history + [(hi, sample_rate, steps)], delta, accountant) > epsilon:
        if hi >= MAX_NOISE:
            raise BudgetTooSmall(f"no noise multiplier up to {MAX_NOISE:g} reaches epsilon={epsilon:g} "
                                 f"with {steps} steps")
        lo, hi = hi, min(2 * hi, MAX_NOISE)
    while True:
        mid = (lo + hi) / 2
        eps = _epsilon(history + [(mid, sample_rate, steps)], delta, accountant)
        if eps > epsilon:
            lo = mid
        else:
            hi = mid
            if epsilon - eps < tolerance:
                return hi


def smallest_reachable_epsilon(*, delta: float, sample_rate: float, steps: int, prior_share: float,
                               accountant: str = "rdp", start: float = 1e-6) -> float:
    """The smallest target epsilon (within about 2 %, never below it) that a fit can be calibrated
    to: class counts at ``prior_share`` of it (``counts_noise``), then ``steps`` DP-SGD steps at
    ``sample_rate`` (``calibrate_noise``, which succeeds iff its largest noise, MAX_NOISE, is enough).
    ``start``: a target known to be out of reach; the search goes up from there."""
    def reachable(epsilon: float) -> bool:
        try:
            sigma_counts = counts_noise(prior_share * epsilon, delta, accountant)
        except BudgetTooSmall:
            return False
        return _epsilon([(sigma_counts, 1.0, 1), (MAX_NOISE, sample_rate, steps)], delta, accountant) <= epsilon

    with warnings.catch_warnings():  # at such noise the best RDP order is the largest one: expected here
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        return _search_up(reachable, start, _epsilon_at_max_noise(delta, sample_rate, steps, prior_share, accountant))


def _epsilon_at_max_noise(delta: float, sample_rate: float, steps: int, prior_share: float, accountant: str
                          ) -> float:
    """A lower bound of the floor: what both releases spend at MAX_NOISE, or what the counts alone need."""
    at_max_noise = [(MAX_NOISE, 1.0, 1), (MAX_NOISE, sample_rate, steps)]
    return max(_epsilon(at_max_noise, delta, accountant), _epsilon(at_max_noise[:1], delta, accountant) / prior_share)


def _search_up(reachable, start: float, lower_bound: float) -> float:
    """The smallest epsilon above ``start`` that is ``reachable`` (monotone), within 1 %, rounded up to 3 digits."""
    lo, hi = start, max(2 * start, lower_bound)
    while not reachable(hi):
        if hi > 1e6:  # not a budget anyone means: do not search forever
            return math.inf
        lo, hi = hi, 2 * hi
    while hi > 1.01 * lo:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if reachable(mid) else (mid, hi)
    step = 10.0 ** (math.floor(math.log10(hi)) - 2)
    return math.ceil(hi / step) * step


class Ledger:
    """Everything released about the training rows, in order, with the accountant that adds it up."""

    def __init__(self, delta: float, accountant: str = "rdp", history=()):
        if accountant not in ACCOUNTANTS:
            raise ConfigError(f"accountant {accountant!r} unknown; use one of {', '.join(ACCOUNTANTS)}")
        self.delta, self.accountant = delta, accountant
        self._acc = create_accountant(accountant)
        self._acc.history = [tuple(h) for h in history]

    @property
    def history(self) -> list[tuple[float, float, int]]:
        return list(self._acc.history)

    def record(self, noise_multiplier: float, sample_rate: float) -> None:
        """One release: a DP-SGD step, or (sample_rate=1) a Gaussian release of counts."""
        self._acc.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)

    def spent(self) -> float:
        """Epsilon spent so far at this ledger's delta, as Opacus' accountant computes it (0 if nothing)."""
        if not self._acc.history:
            return 0.0
        eps = float(self._acc.get_epsilon(delta=self.delta, **_extra(self.accountant)))
        return eps if math.isfinite(eps) else math.inf

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The history as a (releases, 3) tensor (noise multiplier, sample rate, steps), for checkpoints."""
        return {"history": torch.tensor(self.to_dict()["history"], dtype=torch.float64).reshape(-1, 3)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._acc.history = [(float(s), float(q), int(n)) for s, q, n in state["history"].tolist()]

    def to_dict(self) -> dict:
        return {"accountant": self.accountant, "delta": self.delta,
                "history": [[float(s), float(q), int(n)] for s, q, n in self._acc.history]}
