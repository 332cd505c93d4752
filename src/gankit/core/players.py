"""A player of the game: a network with its optimiser and learning-rate schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

Tensor = torch.Tensor


@dataclass
class Player:
    """A network with its optimiser and learning-rate schedule.

    ``player(x)`` runs the forward pass whose backward updates this player: through the
    DistributedDataParallel wrapper in a multi-process run, so its gradients are averaged over
    the processes exactly once. ``player.net(x)`` bypasses the wrapper, for forward passes that
    only carry the *other* player's gradient (D inside G's loss, G under no_grad in D's step).
    """

    net: nn.Module
    opt: torch.optim.Optimizer
    lr_schedule: LambdaLR
    ddp: nn.Module | None = None

    def __call__(self, *inputs: Tensor, **options: bool) -> Tensor:
        return (self.ddp or self.net)(*inputs, **options)

    def params(self) -> list[nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]

    def backward(self, loss: Tensor, retain_graph: bool = False) -> None:
        """d loss / d own parameters only, into .grad (no gradient spent on the other player)."""
        loss.backward(inputs=self.params(), retain_graph=retain_graph)

    def step(self) -> None:
        """One update from the gradients in .grad, then the lr schedule's tick."""
        self.opt.step()
        self.lr_schedule.step()
        self.opt.zero_grad(set_to_none=True)

    def scale_lr(self, factor: float) -> None:
        """Multiply the learning rate, now and in every later step of the schedule."""
        sched = self.lr_schedule
        sched.base_lrs = [lr * factor for lr in sched.base_lrs]
        for group in self.opt.param_groups:
            group["lr"] *= factor
        sched._last_lr = [group["lr"] for group in self.opt.param_groups]

    @property
    def lr(self) -> float:
        return self.opt.param_groups[0]["lr"]


class StepStats(NamedTuple):
    """Detached 0-d tensors, read back only when logged (no host sync on the hot path)."""

    d_loss: Tensor
    g_loss: Tensor
    d_real: Tensor  # mean D(x)
    d_fake: Tensor  # mean D(G(z))


# A generator loss: D's logits on fakes -> scalar (gankit.core.losses.GENERATOR_LOSSES).
GLoss = Callable[[Tensor], Tensor]
