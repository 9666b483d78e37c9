"""GAN objectives and penalties as small pure functions.

Every discriminator returns raw logits ``f`` (no sigmoid). For the objectives that
are written with probabilities, ``D = sigmoid(f)``, and the log terms are computed
with softplus, which is exact and stable:
    log D      = log sigmoid(f)  = -softplus(-f)
    log(1 - D) = log sigmoid(-f) = -softplus(f)

Each objective is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)),
both to be minimised, found by name in OBJECTIVES.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class Objective(NamedTuple):
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    description: str


OBJECTIVES: dict[str, Objective] = {}


def register_objective(name: str, d_loss, g_loss, description: str) -> None:
    if name in OBJECTIVES:
        raise KeyError(f"objective {name!r} is already registered")
    OBJECTIVES[name] = Objective(d_loss, g_loss, description)


# --- the original game (Goodfellow et al. 2014) ------------------------------------

def d_minimax(real: Tensor, fake: Tensor) -> Tensor:
    # D maximises log D(x) + log(1 - D(G(z))); we minimise the negative.
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_minimax(fake: Tensor) -> Tensor:
    # G minimises log(1 - D(G(z))): the saturating loss of the minimax game.
    # Its gradient vanishes when D confidently rejects samples, early in training.
    return -F.softplus(fake).mean()


def g_nonsaturating(fake: Tensor) -> Tensor:
    # G maximises log D(G(z)) instead: same fixed point, strong early gradients
    # (the variant the 2014 paper recommends in practice).
    return F.softplus(-fake).mean()


# --- least squares (Mao et al. 2017, a=0, b=c=1) -----------------------------------

def d_least_squares(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())


def g_least_squares(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1).pow(2).mean()


# --- Wasserstein (Arjovsky et al. 2017; use with gradient_penalty) -----------------

def d_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    # The critic maximises E[f(x)] - E[f(G(z))].
    return fake.mean() - real.mean()


def g_wasserstein(fake: Tensor) -> Tensor:
    return -fake.mean()


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) -------------------------------------

def d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


g_hinge = g_wasserstein  # G maximises the critic's score, as in WGAN.


register_objective("minimax", d_minimax, g_minimax, "original saturating minimax game (2014)")
register_objective("nonsat", d_minimax, g_nonsaturating, "non-saturating GAN loss (2014, in practice)")
register_objective("lsgan", d_least_squares, g_least_squares, "least squares GAN (Mao et al. 2017)")
register_objective("wgan", d_wasserstein, g_wasserstein, "Wasserstein critic; pair with gp_weight (WGAN-GP)")
register_objective("hinge", d_hinge, g_hinge, "hinge loss (SNGAN, BigGAN)")


# --- penalties ---------------------------------------------------------------------

def _input_gradient_sq_norm(logits: Tensor, inputs: Tensor) -> Tensor:
    """||d sum(logits) / d inputs||^2 per sample; keeps the graph for double backward."""
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad f(x_hat)|| - 1)^2] on random interpolates.

    ``critic`` maps a batch to logits (B,). Multiply by the weight (10 in the paper).
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    norm = _input_gradient_sq_norm(critic(x_hat), x_hat).add(1e-12).sqrt()
    return (norm - 1).pow(2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real data.

    ``real`` must have requires_grad=True when ``real_logits`` is computed.
    Multiply by gamma / 2.
    """
    return _input_gradient_sq_norm(real_logits, real).mean()


def auxiliary_classifier_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """AC-GAN (Odena et al. 2017): both players minimise the class cross-entropy."""
    return F.cross_entropy(class_logits.float(), labels)
