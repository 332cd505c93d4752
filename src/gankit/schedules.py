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
    """A network with its optimiser and learning-rate schedule."""

    net: nn.Module
    opt: torch.optim.Optimizer
    lr_schedule: LambdaLR

    def params(self) -> list[nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]

    def step(self, grads: tuple[Tensor, ...]) -> None:
        """One update from gradients matching ``params()``, then the lr schedule's tick."""
        params = self.params()
        for p, grad in zip(params, grads, strict=True):
            p.grad = grad
        self.opt.step()
        self.lr_schedule.step()
        for p in params:
            p.grad = None

    def apply(self, loss: Tensor) -> None:
        """Step on d loss / d own parameters only (no gradient spent on the other player)."""
        self.step(torch.autograd.grad(loss, self.params()))

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
    fake = g.net(g.net.sample_noise(real.shape[0]))
    real_logits, fake_logits = d.net(real), d.net(fake)
    loss_d = discriminator_loss(real_logits, fake_logits)
    loss_g = g_loss(fake_logits)
    d_grads = torch.autograd.grad(loss_d, d.params(), retain_graph=True)
    g_grads = torch.autograd.grad(loss_g, g.params())
    d.step(d_grads)
    g.step(g_grads)
    return _stats(loss_d, loss_g, real_logits, fake_logits)


def alternating_step(g: Player, d: Player, reals: list[Tensor], g_loss: GLoss) -> StepStats:
    """len(reals) = k discriminator steps, then one generator step on fresh noise."""
    for real in reals:
        with torch.no_grad():
            fake = g.net(g.net.sample_noise(real.shape[0]))
        real_logits, fake_logits_d = d.net(real), d.net(fake)
        loss_d = discriminator_loss(real_logits, fake_logits_d)
        d.apply(loss_d)
    loss_g = g_loss(d.net(g.net(g.net.sample_noise(reals[-1].shape[0]))))
    g.apply(loss_g)
    return _stats(loss_d, loss_g, real_logits, fake_logits_d)


def _stats(loss_d: Tensor, loss_g: Tensor, real_logits: Tensor, fake_logits: Tensor) -> StepStats:
    return StepStats(loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits.detach()).mean(),
                     torch.sigmoid(fake_logits.detach()).mean())


SCHEDULES = {"simultaneous": simultaneous_step, "alternating": alternating_step}


def batches_per_step(schedule: str, d_steps: int) -> int:
    """Minibatches one iteration consumes: 1 when simultaneous, k when alternating."""
    return 1 if schedule == "simultaneous" else d_steps
