"""The two fairness games on the shared loop: adversarial debiasing and a fair representation.

Both have two players and two phases per step: the adversary learns to recover the
sensitive group from what it reads (the prediction, or the representation; plus the true
outcome for equalized odds), then the net moves against it.

* :class:`DebiasGame`: Zhang, Lemoine & Mitchell 2018. The predictor's update is
  grad L_P - proj_{grad L_A} grad L_P - alpha grad L_A (objectives.projected_gradient),
  applied through a surrogate loss whose gradient is that vector, so the loop's plain
  backward and optimizer step carry it out.
* :class:`RepresentationGame`: Edwards & Storkey 2016 (and Madras et al. 2018's group-
  balanced adversary): an encoder and task head minimize L_task + r L_recon + gamma L_conf,
  where L_conf is the cross-entropy of the adversary's belief against the uniform one
  (objectives.confusion_loss). Edwards & Storkey use -L_A instead; an encoder can win that
  by making the adversary confidently wrong, which leaves the group as readable as before
  (a fresh probe read it back at 90 % where the game's adversary was at chance).

The adversary's weight follows ``weight_schedule`` (objectives.schedule_weight). Batches are
pure functions of the step (BatchSampler), so a resumed run reaches the same weights. Both
players use Adam with beta1 = 0.5, as GANs do: less momentum, less cycling in a two-player game.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.fair.config import FairConfig
from gankit.fair.data import FairData
from gankit.fair.nets import players_for
from gankit.fair.objectives import adversary_loss, cell_weights, confusion_loss, projected_gradient, \
    schedule_weight, surrogate, task_loss
from gankit.loop import BatchSampler, Game, Phase, Player, constant, cosine


class FairGame(Game):
    """What both games share: the players, the adversary's phase, the batches, the schedules."""

    net_name = "net"

    def __init__(self, data: FairData, config: FairConfig):
        config.check()
        self.config, split = config, data.fit
        self.x, self.y, self.a = split.x, split.y, split.a
        torch.manual_seed(config.seed)
        self.net, self.adversary = players_for(config, self.x.shape[1], data.n_groups)
        self.row_weights = cell_weights(self.a, self.y, data.n_groups, config.criterion == "odds") \
            if config.balance_groups else torch.ones(len(self.a))
        batch = min(config.batch_size, len(split))
        self.sampler = BatchSampler(len(split), batch, seed=config.seed, last="drop")
        self.adversary_sampler = BatchSampler(len(split), batch, seed=config.seed, stream=1, last="wrap")
        self.lr_schedule = cosine(config.steps) if config.lr_schedule == "cosine" else constant
        opt_net = torch.optim.Adam(self.net.parameters(), lr=config.lr, betas=(0.5, 0.999))
        opt_adv = torch.optim.Adam(self.adversary.parameters(), lr=config.lr_adversary, betas=(0.5, 0.999))
        # the net's loss is a surrogate (debias) or has the adversary's term in it: log the parts instead
        self.phases = [Phase("adversary", (Player("adversary", self.adversary, opt_adv, config.lr_adversary,
                                                  log=False),), repeats=config.adversary_steps),
                       Phase(self.net_name, (Player(self.net_name, self.net, opt_net, config.lr, log=False),))]

    def modules(self) -> dict:
        return {"net": self.net, "adversary": self.adversary}

    def checkpoint_meta(self, step: int) -> dict:
        return {"config": self.config.to_dict()}

    def describe(self, row: dict) -> str:
        return (f"task {row['task_loss']:.3f}  acc {row['task_acc']:.2f}  adversary acc {row['adversary_acc']:.2f}  "
                f"weight {row['weight']:.2f}")

    def weight_at(self, step: int) -> float:
        c = self.config
        return schedule_weight(c.weight_schedule, c.adversary_weight, step, c.steps)

    def batch(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.x[rows], self.y[rows], self.a[rows], self.row_weights[rows]

    def loss(self, phase: Phase, step: int, repeat: int):
        if phase.name == "adversary":
            return self.adversary_phase(step * self.config.adversary_steps + repeat)
        x, y, a, w = self.batch(self.sampler(step))
        loss, stats = self.net_loss(x, y, a, w, self.weight_at(step))
        return loss, {**stats, "weight": torch.tensor(self.weight_at(step))}

    def adversary_phase(self, t: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The adversary's step: recover the group from what the (fixed) net shows it."""
        x, y, a, w = self.batch(self.adversary_sampler(t))
        with torch.no_grad():
            view = self.net.adversary_view(x)
        logits = self.adversary(view, y)
        loss = adversary_loss(logits, a, w)
        return loss, {"adversary_loss": loss.detach(), "adversary_acc": (logits.argmax(1) == a).float().mean()}

    def net_loss(self, x: Tensor, y: Tensor, a: Tensor, w: Tensor, weight: float):
        raise NotImplementedError


class DebiasGame(FairGame):
    """Zhang et al.'s adversarial debiasing: the predictor's step uses the projected gradient."""

    net_name = "predictor"

    def net_loss(self, x, y, a, w, weight):
        params = [p for p in self.net.parameters() if p.requires_grad]
        logit = self.net(x)
        l_task = task_loss(logit, y)
        l_adv = adversary_loss(self.adversary(logit.unsqueeze(-1), y), a, w)
        g_task = torch.autograd.grad(l_task, params, retain_graph=True)
        g_adv = torch.autograd.grad(l_adv, params)
        # weight 0 is the plain predictor: no adversary's term, no projection
        direction = projected_gradient(g_task, g_adv, weight, self.config.projection and weight > 0)
        stats = {"task_loss": l_task.detach(), "task_acc": ((logit.detach() > 0).float() == y).float().mean()}
        return surrogate(params, direction), stats


class RepresentationGame(FairGame):
    """Edwards & Storkey's censored representation: task (and reconstruction) plus the adversary's confusion."""

    net_name = "encoder"

    def net_loss(self, x, y, a, w, weight):
        z = self.net.encode(x)
        logit = self.net.head(z).squeeze(-1)
        l_task = task_loss(logit, y)
        loss = l_task + weight * confusion_loss(self.adversary(z, y), w)
        stats = {"task_loss": l_task.detach(), "task_acc": ((logit.detach() > 0).float() == y).float().mean()}
        if self.net.decoder is not None:
            l_recon = F.mse_loss(self.net.decoder(z), x)
            loss = loss + self.config.reconstruction_weight * l_recon
            stats["reconstruction_loss"] = l_recon.detach()
        return loss, stats


GAMES = {"debias": DebiasGame, "representation": RepresentationGame}


def make_game(data: FairData, config: FairConfig) -> FairGame:
    return GAMES[config.method](data, config)
