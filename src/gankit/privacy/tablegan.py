"""A conditional tabular GAN in the AC-GAN style, free of BatchNorm (Opacus cannot clip it per sample).

Generator: noise z and the one-hot of the outcome class -> an MLP with LayerNorm ->
per-span output heads: tanh for the within-bin value of a number, Gumbel-softmax
(Jang et al. 2017) for a one-hot (a category, or the grid bin of a number; CTGAN,
Xu et al. 2019, uses the same pair). A number that may be missing has a (present,
missing) one-hot too, and its value part is multiplied by the "present" output: a
missing cell's value is all zeros, as the encoder writes real missing cells.
Discriminator: an MLP over the encoded row with two heads, as in AC-GAN (Odena et al.
2017) and the private AC-GAN of Beaulieu-Jones et al. 2019: one logit "real or
generated" and class logits for the outcome column.
The discriminator has no normalization layers at all: its per-sample gradients must
not mix samples (BatchNorm does), and none is needed at these sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.privacy.transform import Span


class TableGenerator(nn.Module):
    """(z, class) -> an encoded row; soft one-hots while training, hard ones when sampling."""

    def __init__(self, spans: list[Span], num_classes: int, *, z_dim: int = 32, hidden: int = 128,
                 depth: int = 2, tau: float = 0.2):
        super().__init__()
        self.spans, self.num_classes, self.z_dim, self.tau = spans, num_classes, z_dim, tau
        layers, width = [], z_dim + num_classes
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, sum(s.width for s in spans))
        # Spans grouped by kind and width, so each group is one tanh or one Gumbel-softmax call
        # (thirty separate calls per batch cost more than the whole MLP at these sizes).
        groups: dict[tuple[str, int], list[int]] = {}
        for s in spans:
            groups.setdefault((s.kind, s.width if s.kind == "softmax" else 1), []).extend(
                range(s.start, s.start + s.width))
        self._groups = [(kind, width) for kind, width in groups]
        order = torch.tensor([i for key in groups for i in groups[key]], dtype=torch.long)
        for j, key in enumerate(groups):
            self.register_buffer(f"_idx{j}", torch.tensor(groups[key], dtype=torch.long), persistent=False)
        self.register_buffer("_inverse", torch.argsort(order), persistent=False)
        gate = _value_gates(spans)
        self.register_buffer("_gate", gate, persistent=False)  # not in the state dict: model files unchanged
        self.gated = bool((gate < len(gate)).any())
        # added to the output logits: zero while training; the fitted model's calibration of its
        # missing shares (synth.calibrate_missing) sets it, and the model record stores it
        self.register_buffer("logit_shift", torch.zeros(sum(s.width for s in spans)), persistent=False)

    def logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The output head before tanh and Gumbel-softmax (with the logit shift)."""
        return self.head(self.body(torch.cat([z, F.one_hot(y, self.num_classes).float()], dim=1))) + self.logit_shift

    def forward(self, z: torch.Tensor, y: torch.Tensor, hard: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor:
        raw, parts = self.logits(z, y), []
        for j, (kind, width) in enumerate(self._groups):
            logits = raw[:, getattr(self, f"_idx{j}")]
            if kind == "tanh":
                parts.append(torch.tanh(logits))
            else:
                soft = gumbel_softmax(logits.view(len(raw), -1, width), self.tau, hard, generator)
                parts.append(soft.reshape(len(raw), -1))
        out = torch.cat(parts, dim=1)[:, self._inverse]
        if self.gated:
            out = out * torch.cat([out, out.new_ones(len(out), 1)], dim=1)[:, self._gate]
        return out

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator)


def _value_gates(spans: list[Span]) -> torch.Tensor:
    """For every output position, the position that scales it: the "present" entry of its column's
    missingness indicator for the value part of a number that may be missing, else ``width`` (a
    constant 1 appended to the output)."""
    width = sum(s.width for s in spans)
    present = {s.column: s.start for s in spans if s.role == "missing"}
    gate = torch.full((width,), width, dtype=torch.long)
    for s in spans:
        if s.role == "value" and s.column in present:
            gate[s.start:s.start + s.width] = present[s.column]
    return gate


def gumbel_softmax(logits: torch.Tensor, tau: float, hard: bool, generator: torch.Generator | None) -> torch.Tensor:
    """softmax((logits + Gumbel noise) / tau) over the last dim (Jang et al. 2017); ``hard``: the one-hot
    of its argmax with the soft gradient. torch's own version cannot take a Generator, so sampling
    from a saved model with a seed would depend on the global RNG."""
    gumbels = -torch.empty_like(logits).exponential_(generator=generator).log()
    soft = ((logits + gumbels) / tau).softmax(-1)
    if not hard:
        return soft
    one_hot = torch.zeros_like(soft).scatter_(-1, soft.argmax(-1, keepdim=True), 1.0)
    return one_hot - soft.detach() + soft


class TableDiscriminator(nn.Module):
    """An encoded row -> (real/fake logit, class logits). No normalization layers (DP-SGD)."""

    def __init__(self, width: int, num_classes: int, *, hidden: int = 128, depth: int = 2):
        super().__init__()
        layers, w = [], width
        for _ in range(depth):
            layers += [nn.Linear(w, hidden), nn.LeakyReLU(0.2)]
            w = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, 1 + num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.body(x))
        return out[:, 0], out[:, 1:]


def d_rows_loss(adv: torch.Tensor, cls: torch.Tensor, is_real: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Discriminator loss per row: -log D(x) for real rows, -log(1 - D(x)) for generated ones,
    plus, on real rows only, the auxiliary cross-entropy -log C(y | x).

    Odena et al. train the auxiliary head on generated rows too. Under DP noise the real
    signal is faint, and a head that also learns from G's rows can settle on whatever
    class mapping G happens to produce (we saw TSTR AUROC fall below 0.5 on diabetes at
    epsilon 3); learning the classes from real rows only ties the head to the data."""
    return F.binary_cross_entropy_with_logits(adv, is_real, reduction="none") + \
        is_real * F.cross_entropy(cls, y, reduction="none")


def g_loss(adv: torch.Tensor, cls: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Generator: non-saturating -log D(G(z, y)) plus -log C(y | G(z, y)): look real, look like class y."""
    return F.binary_cross_entropy_with_logits(adv, torch.ones_like(adv)) + F.cross_entropy(cls, y)
