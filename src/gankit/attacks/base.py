"""The attack interface: ``x_adv = attack(model, x, y)``, and the registry behind ``--attack``.

Every attack is a small object holding its hyper-parameters (``eps``, ``steps``,
...). Calling it on a model and a batch checks the arguments, puts the model in
eval mode (and freezes its parameters' ``requires_grad``) for the duration of
the call, seeds its own random generator, runs :meth:`Attack.forward` and puts
everything back exactly as it was, even when the attack raises.

Conventions, shared by all attacks (the places where users of other libraries
most often go wrong):

* inputs ``x`` are images in [0, 1], shape ``(N, ...)``; the model does its own
  normalization (see :class:`gankit.attacks.models.Normalize` and
  :func:`gankit.attacks.adapters.as_classifier`). Inputs outside [0, 1] draw a
  warning: they usually mean normalized images were passed in;
* the model returns class logits ``(N, num_classes)``;
* ``y`` holds the true labels (int64, shape ``(N,)``); ``y=None`` attacks the
  model's own predictions (avoids "label leaking", Kurakin et al. 2017);
* ``target=`` (same shape as ``y``) makes the attack targeted, for attacks
  whose ``targeted_ok`` is True;
* the result has the shape, dtype and device of ``x``, lies in [0, 1] and, for
  norm-bounded attacks, inside the ``eps`` ball around ``x``.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

__all__ = ["ATTACKS", "Attack", "AttackError", "project", "register_attack", "lp_norm"]

NORMS = ("Linf", "L2")


class AttackError(GankitError, ValueError):
    """A bad argument to an attack (negative eps, wrong shape, label out of range, ...)."""


#: attack name -> class, filled by :func:`register_attack` (the CLI's ``--attack`` choices)
ATTACKS: dict[str, type["Attack"]] = {}


def register_attack(name: str) -> Callable[[type["Attack"]], type["Attack"]]:
    """Class decorator adding an attack to :data:`ATTACKS`; a name can be registered once."""
    def add(cls: type[Attack]) -> type[Attack]:
        if name in ATTACKS:
            raise ValueError(f"attack {name!r} is already registered (by {ATTACKS[name].__name__})")
        cls.name = name
        ATTACKS[name] = cls
        return cls
    return add


def lp_norm(delta: Tensor, norm: str) -> Tensor:
    """Per-sample norm of a batch of perturbations: ``Linf``, ``L2`` (or ``L1``), shape (N,)."""
    flat = delta.reshape(delta.shape[0], -1)
    if norm == "Linf":
        return flat.abs().amax(dim=1) if flat.shape[1] else flat.new_zeros(flat.shape[0])
    if norm == "L2":
        return flat.norm(p=2, dim=1)
    if norm == "L1":
        return flat.abs().sum(dim=1)
    raise AttackError(f"unknown norm {norm!r}; use one of Linf, L2, L1")


def _per_sample(v: Tensor, like: Tensor) -> Tensor:
    """(N,) -> (N, 1, 1, ...) to broadcast against a batch shaped like ``like``."""
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def project(x_adv: Tensor, x: Tensor, eps: float, norm: str) -> Tensor:
    """Nearest point (for Linf; radial scaling for L2) of the eps ball around x, then clipped to [0, 1]."""
    delta = x_adv - x
    if norm == "Linf":
        delta = delta.clamp(-eps, eps)
    else:
        n = lp_norm(delta, "L2")
        delta = delta * _per_sample((eps / n.clamp_min(1e-12)).clamp(max=1.0), delta)
    return (x + delta).clamp(0.0, 1.0)


class Attack:
    """Base class: subclasses set ``norm`` and implement :meth:`forward`.

    Arguments common to all attacks (keyword-only in subclasses):

    * ``eps`` (float or None): radius of the allowed perturbation in the
      attack's norm; None for minimum-norm attacks (CW, DeepFool).
    * ``seed`` (int or None): seed of the attack's own ``torch.Generator`` (random
      starts); None draws one from torch's global generator, so
      ``torch.manual_seed`` makes runs repeatable too.
    """

    name: ClassVar[str] = "attack"
    #: the distance the attack bounds (or minimizes): "Linf" or "L2"
    norm: str = "Linf"
    #: whether ``target=`` is supported
    targeted_ok: ClassVar[bool] = True
    #: True when ``eps`` bounds the perturbation; False for minimum-norm attacks
    bounded: ClassVar[bool] = True

    def __init__(self, *, eps: float | None, seed: int | None = None):
        if self.bounded:
            _check_number("eps", eps, low=0.0)
        elif eps is not None:
            raise AttackError(f"{type(self).__name__} is a minimum-norm attack: it takes no eps "
                              f"(the report measures its perturbation norms against eps instead)")
        if self.norm not in NORMS:
            raise AttackError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if seed is not None and not isinstance(seed, int):
            raise AttackError(f"seed must be an int or None, got {seed!r}")
        self.eps = None if eps is None else float(eps)
        self.seed = seed

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"

    # ---- the public call --------------------------------------------------------------

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor | None = None, *,
                 target: Tensor | None = None) -> Tensor:
        """Adversarial examples for ``model`` at ``x`` (true labels ``y``; ``target`` for targeted)."""
        if not callable(model):
            raise AttackError(f"model must be a callable nn.Module returning logits, got {type(model).__name__}")
        _check_images(x)
        with _attack_mode(model):
            y = self._labels(model, x, y, target)
            if target is not None:
                if not self.targeted_ok:
                    raise AttackError(f"{type(self).__name__} has no targeted mode; leave target=None")
            seed = self.seed if self.seed is not None else int(torch.randint(0, 2**62, ()).item())
            self._gen = torch.Generator(device=x.device).manual_seed(seed)
            x0 = x.detach().to(torch.float32)
            x_adv = self.forward(model, x0, y, target)
            if self.bounded:  # the contract holds whatever forward() did
                x_adv = project(x_adv.detach(), x0, self.eps, self.norm)
            else:
                x_adv = x_adv.detach().clamp(0.0, 1.0)
        return x_adv.to(x.dtype)

    def forward(self, model: nn.Module, x: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        """Return x_adv for float32 ``x`` in [0, 1]; ``target`` is None for untargeted attacks."""
        raise NotImplementedError

    # ---- helpers for subclasses -----------------------------------------------------------

    def _labels(self, model: nn.Module, x: Tensor, y: Tensor | None, target: Tensor | None) -> Tensor:
        """Check y and target against the model's number of classes; y=None -> predictions."""
        n = x.shape[0]
        with torch.no_grad():
            logits = model(x.float() if y is None else x[:1].float())
        if not torch.is_tensor(logits) or logits.ndim != 2 or logits.shape[0] != (n if y is None else 1):
            shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
            raise AttackError(f"the model must return logits of shape (N, num_classes); got {shape} "
                              f"(wrap other outputs with gankit.attacks.as_classifier)")
        classes = logits.shape[1]
        if y is None:
            y = logits.argmax(dim=1)
        _check_labels("y", y, n, classes, x.device)
        if target is not None:
            _check_labels("target", target, n, classes, x.device)
        return y

    def _loss_sign(self, target: Tensor | None) -> float:
        """+1: climb the loss of the true label; -1: descend the loss of the target label."""
        return 1.0 if target is None else -1.0

    def _fooled(self, logits: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        """Per-sample success: misclassified (untargeted) or classified as target (targeted)."""
        pred = logits.argmax(dim=1)
        return pred != y if target is None else pred == target

    def random_point(self, x: Tensor, eps: float, norm: str) -> Tensor:
        """A uniform random point of the eps ball around x (clipped to [0, 1]), from the attack's generator."""
        if norm == "Linf":
            noise = torch.rand(x.shape, generator=self._gen, device=x.device) * 2 - 1
            return (x + eps * noise).clamp(0.0, 1.0)
        direction = torch.randn(x.shape, generator=self._gen, device=x.device)
        direction = direction / _per_sample(lp_norm(direction, "L2").clamp_min(1e-12), x)
        d = x[0].numel()
        radius = torch.rand(x.shape[0], generator=self._gen, device=x.device) ** (1.0 / d) * eps
        return (x + direction * _per_sample(radius, x)).clamp(0.0, 1.0)


class _attack_mode:
    """Eval mode and frozen parameters inside the block; each module's mode and each
    parameter's requires_grad restored on exit (a context manager, exceptions included)."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> None:
        model = self.model
        self.modes = [(m, m.training) for m in model.modules()] if isinstance(model, nn.Module) else []
        self.grads = [(p, p.requires_grad) for p in model.parameters()] if isinstance(model, nn.Module) else []
        if isinstance(model, nn.Module):
            model.eval()
            # no weight gradients are needed: skipping them makes each step ~10 % cheaper
            model.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for m, training in self.modes:
            m.training = training
        for p, flag in self.grads:
            p.requires_grad_(flag)


def _check_number(name: str, value, *, low: float, integer: bool = False, strict: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise AttackError(f"{name} must be a finite {'integer' if integer else 'number'}, got {value!r}")
    if value < low or (strict and value == low):
        raise AttackError(f"{name} must be {'>' if strict else '>='} {low}, got {value}")


def _check_images(x: Tensor) -> None:
    if not torch.is_tensor(x):
        raise AttackError(f"x must be a tensor of images in [0, 1], got {type(x).__name__}")
    if not x.is_floating_point():
        raise AttackError(f"x must be a float tensor in [0, 1], got dtype {x.dtype} "
                          f"(for uint8 images use x.float() / 255)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise AttackError(f"x must be a non-empty batch shaped (N, ...), e.g. (N, C, H, W); "
                          f"got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise AttackError("x contains NaN or infinite values")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        warnings.warn(f"attack inputs should be images in [0, 1] with the normalization inside the model, "
                      f"but x lies in [{lo:.3g}, {hi:.3g}]: were normalized or [-1, 1] images passed in? "
                      f"The adversarial examples will be clipped to [0, 1].", UserWarning, stacklevel=3)


def _check_labels(name: str, y: Tensor, n: int, classes: int, device: torch.device) -> None:
    if not torch.is_tensor(y):
        raise AttackError(f"{name} must be a tensor of class indices, got {type(y).__name__}")
    if y.dtype in (torch.bool,) or y.is_floating_point() or y.is_complex():
        raise AttackError(f"{name} must hold integer class indices (int64), got dtype {y.dtype}")
    if y.shape != (n,):
        raise AttackError(f"{name} must have shape ({n},) (one label per image), got {tuple(y.shape)}")
    if y.device != device:
        raise AttackError(f"{name} is on {y.device} but x is on {device}; put them on the same device")
    if n and (y.min() < 0 or y.max() >= classes):
        raise AttackError(f"{name} has labels in [{y.min().item()}, {y.max().item()}] but the model "
                          f"has {classes} classes (valid: 0..{classes - 1})")
