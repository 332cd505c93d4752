"""Update schedules: how one training iteration turns minibatches into updates of D and G.

- ``simultaneous`` (the authors' code): one minibatch, one forward pass; D's and G's gradients
  both come from it and both players update at once.
- ``alternating`` (Algorithm 1 as printed): k steps on D, each on a fresh minibatch and fresh
  noise, then one step on G with fresh noise.

G's loss always uses a D forward with dropout active, as in the authors' code.

Conditional GANs use the same steps: ``labels`` holds each real minibatch's classes, fake
samples get classes drawn uniformly, G and D receive them, and an AC-GAN discriminator's class
loss (weight ``aux_weight``) joins both players' losses. Unconditional calls draw nothing extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from gankit import rng
from gankit.losses import auxiliary_class_loss, discriminator_loss

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


def _fake_labels(g: Player, real_labels: Tensor | None) -> Tensor | None:
    """Uniform classes for a fake minibatch (None when unconditional; draws nothing then).

    Drawn from gankit.rng's stream like the noise, so N processes draw the 1-process classes.
    """
    if real_labels is None:
        return None
    return rng.randint(g.net.classes, tuple(real_labels.shape), real_labels.device)


def _generate(g: Player, n: int, labels: Tensor | None, wrapped: bool = True) -> Tensor:
    """G(z) (or G(z, y)) through the player's DDP wrapper when ``wrapped``."""
    z = g.net.sample_noise(n)
    inputs = (z,) if labels is None else (z, labels)
    return g(*inputs) if wrapped else g.net(*inputs)


def _discriminate(d: Player, x: Tensor, labels: Tensor | None, wrapped: bool = True
                  ) -> tuple[Tensor, Tensor | None]:
    """D's logits and, for a conditional discriminator, its class logits (None without an
    AC-GAN head); through the DDP wrapper when ``wrapped``."""
    if labels is not None:
        return d(x, labels, both=True) if wrapped else d.net.heads(x, labels)
    return (d(x) if wrapped else d.net(x)), None


def simultaneous_step(g: Player, d: Player, reals: list[Tensor], g_loss: GLoss,
                      labels: list[Tensor] | None = None, aux_weight: float = 0.0) -> StepStats:
    """One minibatch; both gradients are taken before either player moves."""
    (real,) = reals
    y_real = labels[0] if labels is not None else None
    y_fake = _fake_labels(g, y_real)
    fake = _generate(g, real.shape[0], y_fake)
    (real_logits, real_cls), (fake_logits, fake_cls) = (_discriminate(d, real, y_real),
                                                        _discriminate(d, fake, y_fake))
    loss_d = discriminator_loss(real_logits, fake_logits)
    loss_g = g_loss(fake_logits)
    if real_cls is not None:
        loss_d = loss_d + aux_weight * 0.5 * (auxiliary_class_loss(real_cls, y_real)
                                              + auxiliary_class_loss(fake_cls, y_fake))
        loss_g = loss_g + aux_weight * auxiliary_class_loss(fake_cls, y_fake)
    d.backward(loss_d, retain_graph=True)
    g.backward(loss_g)
    d.step()
    g.step()
    return _stats(loss_d, loss_g, real_logits, fake_logits)


def alternating_step(g: Player, d: Player, reals: list[Tensor], g_loss: GLoss,
                     labels: list[Tensor] | None = None, aux_weight: float = 0.0) -> StepStats:
    """len(reals) = k discriminator steps, then one generator step on fresh noise."""
    ys = labels if labels is not None else [None] * len(reals)
    for real, y_real in zip(reals, ys, strict=True):
        y_fake = _fake_labels(g, y_real)
        with torch.no_grad():
            fake = _generate(g, real.shape[0], y_fake, wrapped=False)
        (real_logits, real_cls), (fake_logits_d, fake_cls) = (_discriminate(d, real, y_real),
                                                              _discriminate(d, fake, y_fake))
        loss_d = discriminator_loss(real_logits, fake_logits_d)
        if real_cls is not None:
            loss_d = loss_d + aux_weight * 0.5 * (auxiliary_class_loss(real_cls, y_real)
                                                  + auxiliary_class_loss(fake_cls, y_fake))
        d.apply(loss_d)
    y_fake = _fake_labels(g, ys[-1])
    fake_logits, fake_cls = _discriminate(d, _generate(g, reals[-1].shape[0], y_fake), y_fake,
                                          wrapped=False)
    loss_g = g_loss(fake_logits)
    if fake_cls is not None:
        loss_g = loss_g + aux_weight * auxiliary_class_loss(fake_cls, y_fake)
    g.apply(loss_g)
    return _stats(loss_d, loss_g, real_logits, fake_logits_d)


def _stats(loss_d: Tensor, loss_g: Tensor, real_logits: Tensor, fake_logits: Tensor) -> StepStats:
    return StepStats(loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits.detach()).mean(),
                     torch.sigmoid(fake_logits.detach()).mean())


SCHEDULES = {"simultaneous": simultaneous_step, "alternating": alternating_step}


def batches_per_step(schedule: str, d_steps: int) -> int:
    """Minibatches one iteration consumes: 1 when simultaneous, k when alternating."""
    return 1 if schedule == "simultaneous" else d_steps
