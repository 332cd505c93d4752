"""Update schedules: how one training iteration turns minibatches into updates of D and G.

- ``simultaneous`` (the authors' code): one minibatch, one forward pass; D's and G's gradients
  both come from it and both players update at once.
- ``alternating`` (Algorithm 1 as printed): k steps on D, each on a fresh minibatch and fresh
  noise, then one step on G with fresh noise.

G's loss always uses a D forward with dropout active, as in the authors' code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from gankit.losses import discriminator_loss

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

    def __call__(self, x: Tensor) -> Tensor:
        return (self.ddp or self.net)(x)

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

    def apply(self, loss: Tensor) -> None:
        self.backward(loss)
        self.step()

    @property
    def lr(self) -> float:
        return self.opt.param_groups[0]["lr"]


class StepStats(NamedTuple):
    """Detached 0-d tensors, read back only when logged (no host sync on the hot path)."""

    d_loss: Tensor
    g_loss: Tensor
    d_real: Tensor  # mean D(x)
    d_fake: Tensor  # mean D(G(z))


GLoss = Callable[[Tensor], Tensor]


def simultaneous_step(g: Player, d: Player, reals: list[Tensor], g_loss: GLoss) -> StepStats:
    """One minibatch; both gradients are taken before either player moves."""
    (real,) = reals
    fake = g(g.net.sample_noise(real.shape[0]))
    real_logits, fake_logits = d(real), d(fake)
    loss_d = discriminator_loss(real_logits, fake_logits)
    loss_g = g_loss(fake_logits)
    d.backward(loss_d, retain_graph=True)
    g.backward(loss_g)
    d.step()
    g.step()
    return _stats(loss_d, loss_g, real_logits, fake_logits)


def alternating_step(g: Player, d: Player, reals: list[Tensor], g_loss: GLoss) -> StepStats:
    """len(reals) = k discriminator steps, then one generator step on fresh noise."""
    for real in reals:
        with torch.no_grad():
            fake = g.net(g.net.sample_noise(real.shape[0]))
        real_logits, fake_logits_d = d(real), d(fake)
        loss_d = discriminator_loss(real_logits, fake_logits_d)
        d.apply(loss_d)
    loss_g = g_loss(d.net(g(g.net.sample_noise(reals[-1].shape[0]))))
    g.apply(loss_g)
    return _stats(loss_d, loss_g, real_logits, fake_logits_d)


def _stats(loss_d: Tensor, loss_g: Tensor, real_logits: Tensor, fake_logits: Tensor) -> StepStats:
    return StepStats(loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits.detach()).mean(),
                     torch.sigmoid(fake_logits.detach()).mean())


SCHEDULES = {"simultaneous": simultaneous_step, "alternating": alternating_step}


def batches_per_step(schedule: str, d_steps: int) -> int:
    """Minibatches one iteration consumes: 1 when simultaneous, k when alternating."""
    return 1 if schedule == "simultaneous" else d_steps
