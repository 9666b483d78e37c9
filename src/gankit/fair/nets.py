"""The fairness players: a predictor, an encoder with its task head, and the adversaries that read them.

Plain nn.Modules with explicit sizes. ``build_players(config, n_features, n_groups)`` makes
the (net, adversary) pair of a method, for a game and again when a saved model is loaded.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def mlp(inputs: int, hidden: int, layers: int, outputs: int, leaky: bool = False) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units (ReLU, or leaky ReLU), or one linear map when ``hidden`` is 0."""
    sizes = [inputs] + ([hidden] * layers if hidden else []) + [outputs]
    parts: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        act = nn.LeakyReLU(0.2) if leaky else nn.ReLU()
        parts += [nn.Linear(a, b)] + ([act] if i < len(sizes) - 2 else [])
    return nn.Sequential(*parts)


class Predictor(nn.Module):
    """Features -> the logit of the positive outcome (a logistic regression when ``hidden`` is 0)."""

    def __init__(self, n_features: int, hidden: int = 0, layers: int = 1):
        super().__init__()
        self.net = mlp(n_features, hidden, layers, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)

    def adversary_view(self, x: Tensor) -> Tensor:
        """What the adversary reads: the prediction's logit (rows x 1)."""
        return self(x).unsqueeze(-1)


class FairRepresentation(nn.Module):
    """Edwards & Storkey's encoder z = f(x) with a task head (logit) and, optionally, a decoder x' = g(z)."""

    def __init__(self, n_features: int, rep_dim: int, hidden: int = 32, layers: int = 1, decoder: bool = False):
        super().__init__()
        self.encoder = mlp(n_features, hidden, layers, rep_dim)
        self.head = nn.Linear(rep_dim, 1)
        self.decoder = mlp(rep_dim, hidden, layers, n_features) if decoder else None

    def encode(self, x: Tensor) -> Tensor:
        # bounded: the encoder cannot hide the group by scaling z out of the adversary's sensitive range
        return torch.tanh(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encode(x)).squeeze(-1)

    def adversary_view(self, x: Tensor) -> Tensor:
        """What the adversary reads: the representation."""
        return self.encode(x)


class Adversary(nn.Module):
    """Reads a view of each row (the prediction's logit, or a representation) and, for equalized
    odds, the true outcome; returns one logit per group.

    On a logit view it is Zhang et al.'s adversary: s = sigmoid((1 + |c|) * logit) with a learnt c,
    and inputs [s] (parity) or [s, s y, s (1 - y)] (odds), so it can tell groups apart only through
    how the prediction differs between them within an outcome. On a representation it reads z,
    and [z, y, 1 - y] for odds (LAFTR's equalized-odds adversary, conditioned on the outcome)."""

    def __init__(self, view_dim: int, n_groups: int, odds: bool, hidden: int = 0, on_logit: bool = True):
        super().__init__()
        self.odds, self.on_logit = odds, on_logit
        self.c = nn.Parameter(torch.zeros(1)) if on_logit else None
        inputs = (3 if odds else 1) if on_logit else view_dim + (2 if odds else 0)
        # leaky: no dead units, in which an encoder could park the group where the adversary cannot see it
        self.net = mlp(inputs, hidden, 1, n_groups, leaky=True)

    def forward(self, view: Tensor, y: Tensor) -> Tensor:
        y = y.unsqueeze(-1)
        if self.on_logit:
            s = torch.sigmoid((1 + self.c.abs()) * view)
            inputs = torch.cat([s, s * y, s * (1 - y)], 1) if self.odds else s
        else:
            inputs = torch.cat([view, y, 1 - y], 1) if self.odds else view
        return self.net(inputs)


def build_players(method: str, criterion: str, n_features: int, n_groups: int, *, hidden: int, layers: int,
                  rep_dim: int, adversary_hidden: int, decoder: bool) -> tuple[nn.Module, Adversary]:
    """The (net, adversary) of ``method`` ("debias" or "representation")."""
    odds = criterion == "odds"
    if method == "debias":
        return Predictor(n_features, hidden, layers), Adversary(1, n_groups, odds, adversary_hidden, on_logit=True)
    net = FairRepresentation(n_features, rep_dim, hidden, layers, decoder)
    return net, Adversary(rep_dim, n_groups, odds, adversary_hidden, on_logit=False)


def players_for(config, n_features: int, n_groups: int) -> tuple[nn.Module, Adversary]:
    """build_players with a FairConfig's sizes."""
    return build_players(config.method, config.criterion, n_features, n_groups, hidden=config.hidden,
                         layers=config.layers, rep_dim=config.rep_dim, adversary_hidden=config.adversary_hidden,
                         decoder=config.reconstruction_weight > 0)
