"""The semi-supervised GAN objective of Salimans et al. 2016, section 5 (arXiv 1606.03498).

D outputs K logits l_1..l_K; the fake class K+1 has logit 0. With Z(x) = sum_k exp(l_k):

    p(y = k | x, real)  = softmax(l)_k                  (the K-class classifier)
    D(x) = p(real | x)  = Z / (Z + 1) = sigmoid(lse(l))   with lse = logsumexp

so the GAN part of the loss needs no extra output unit:

    -log D(x)           = softplus(lse) - lse           (real, unlabeled data)
    -log (1 - D(G(z)))  = log(1 + Z) = softplus(lse)    (generated data)

Each loss takes batches of shape (..., batch, K) and averages over the batch axis:
a stack of networks (one per seed, see nets.stack_copies) gets one loss per copy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def unlabeled_loss(logits_real: Tensor, logits_fake: Tensor) -> Tensor:
    """D's unsupervised loss: 0.5 E[-log D(x)] + 0.5 E[-log(1 - D(G(z)))].

    The 1/2 weights follow the improved-GAN code, where the unlabeled and
    generated halves each count half.
    """
    lse_real = torch.logsumexp(logits_real, dim=-1)
    lse_fake = torch.logsumexp(logits_fake, dim=-1)
    real = F.softplus(lse_real) - lse_real   # -log Z/(Z+1)
    fake = F.softplus(lse_fake)              # -log 1/(Z+1)
    return 0.5 * real.mean(-1) + 0.5 * fake.mean(-1)


def supervised_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of the K-class classifier on labeled real data, log p(y | x, y < K+1)."""
    return F.cross_entropy(logits.flatten(0, -2), y.flatten(), reduction="none").view(y.shape).mean(-1)


def feature_matching_loss(features_real: Tensor, features_fake: Tensor) -> Tensor:
    """G's loss (section 3.1): || E f(x) - E f(G(z)) ||^2 over a batch, as a mean over units.

    The mean (not the sum) over the units matches the improved-GAN code; with
    Adam the scale makes no difference to the steps.
    """
    return (features_real.mean(-2) - features_fake.mean(-2)).square().mean(-1)


def conditional_entropy(logits: Tensor) -> Tensor:
    """Mean entropy of the K-class prediction softmax(l) over a batch (Grandvalet & Bengio 2004).

    Minimized on unlabeled real data it pushes the class boundaries away from the data:
    the "low-density" aim that Dai et al. 2017 (Bad GAN) give the complement generator.
    """
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1).mean(-1)


def consistency_loss(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Squared distance between two K-class predictions of the same images, summed over the
    classes and averaged over the batch: the Pi-model (Laine & Aila 2017, arXiv 1610.02242;
    Sajjadi et al. 2016), with D's own Gaussian noise making the two passes differ.

    Gradients flow through both passes. Minimizing it asks for predictions that the noise
    cannot move, so the class boundaries stay away from the unlabeled data.
    """
    return (F.softmax(logits_a, dim=-1) - F.softmax(logits_b, dim=-1)).square().sum(-1).mean(-1)


def mean_prediction(logits: Tensor) -> Tensor:
    """The batch's mean K-class prediction, mean_batch softmax(l): shape (..., K)."""
    return F.softmax(logits, dim=-1).mean(-2)


def class_balance_loss(mean: Tensor) -> Tensor:
    """KL(mean prediction || uniform) = log K - H(mean), for ``mean`` = mean_prediction(logits):
    0 when the batch's predictions spread evenly over the K classes, log K when they all name one.

    The marginal-entropy term of CatGAN (Springenberg 2016) and IMSAT (Hu et al. 2017). With
    10 labels a class, a consistency or entropy term can let one class's images drift into a
    neighbour's (our Pi-model runs lost class 9 so); this term makes a vanishing class costly.
    """
    return math.log(mean.shape[-1]) + (mean * torch.log(mean.clamp_min(1e-12))).sum(-1)


def running_balance_loss(mean: Tensor, running: Tensor) -> Tensor:
    """The balance term taken at ``running``, D's class marginal averaged over past batches:
    sum_k log(K running_k) mean_k, for ``mean`` = this batch's mean_prediction.

    Its gradient is that of KL(running || uniform) carried onto this batch's predictions, and its
    value is about that KL. It pushes up the classes D has under-predicted over many batches and
    is 0 once they are balanced. class_balance_loss, taken on one batch, also charges a confident
    and correct classifier for the batch's chance imbalance (about (K-1)/(2B) nats, 0.045 for
    K = 10, B = 100), which only less confident predictions avoid: in our Pi-model runs with it
    the mean entropy of D's unlabeled predictions rose from 0.4 to 2.0 nats (log 10 = 2.3).
    ``running`` is a statistic, not a path for gradients: it is detached here.
    """
    return (torch.log(running.detach().clamp_min(1e-12) * running.shape[-1]) * mean).sum(-1)

