"""Regularisers of the discriminator that an objective's D loss adds (``[reg]``).

- R1 / R2 (Mescheder et al. 2018): gamma/2 * E||grad_x D(x)||^2 at the reals / at G's samples,
  zero-centred. Lazy (StyleGAN2): with ``every`` = N they are added on every N-th D update only,
  multiplied by N, so their average strength stays the same at 1/N of the cost.
- GP (WGAN-GP, Gulrajani et al. 2017): lambda * E(||grad D(x_hat)|| - 1)^2 at x_hat = e x +
  (1 - e) G(z), e ~ U[0, 1] per example; lazy in the same way. A conditional D judges each
  interpolate with the class of its real end.
- instance noise (Sonderby et al. 2016): N(0, std^2) added to every input of D, real and fake.

Every random draw comes from ``gankit.rng``'s stream, so runs stay independent of the process
count and resume bit for bit. The norms are taken per output of D: with ``game.pack`` = m one
output judges m examples, and its gradient is the one with respect to all m of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit import rng
from gankit.core.players import Player

Tensor = torch.Tensor


def squared_grad_norm(outputs: Tensor, inputs: Tensor) -> Tensor:
    """||d outputs_i / d inputs||^2 for each output i (a graph kept for the second backward).

    Taken as the gradient of the outputs' sum: exact when each output depends on its own inputs
    only; with batch norm in D (DCGAN) it includes the path through the batch statistics, as
    common implementations do.
    """
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.reshape(outputs.shape[0], -1).pow(2).sum(1)


def zero_centred_penalty(outputs: Tensor, inputs: Tensor, gamma: float) -> Tensor:
    """gamma/2 * E||grad_x D(x)||^2 (R1 at the reals, R2 at the fakes)."""
    return gamma / 2 * squared_grad_norm(outputs, inputs).mean()


def gradient_penalty(discriminate: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     weight: float) -> Tensor:
    """weight * E(||grad D(x_hat)|| - 1)^2 on interpolates x_hat = e x + (1 - e) x_fake.

    e is drawn per example from gankit.rng's stream (the same numbers under any process count).
    """
    e = rng.rand((real.shape[0],) + (1,) * (real.ndim - 1), real.device).to(real.dtype)
    x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    norm = squared_grad_norm(discriminate(x_hat), x_hat).add(1e-12).sqrt()
    return weight * ((norm - 1) ** 2).mean()


def instance_noise(x: Tensor, std: float) -> Tensor:
    """x + N(0, std^2) noise from gankit.rng's stream; x itself when std is 0 (no draw)."""
    if std == 0:
        return x
    return x + std * rng.randn(tuple(x.shape), x.device).to(x.dtype)


@dataclass(frozen=True)
class Regularisers:
    """The weights of ``[reg]``'s penalties on D; all 0 adds nothing and draws nothing."""

    r1: float = 0.0
    r2: float = 0.0
    gp: float = 0.0
    every: int = 1
    noise: float = 0.0  # instance noise std

    @property
    def active(self) -> bool:
        return bool(self.r1 or self.r2 or self.gp or self.noise)

    def due(self, d: Player) -> bool:
        """Whether this D update carries the penalties: one of R1, R2, GP is on and it is every
        ``every``-th update, counted by D's learning-rate schedule (so the count is in every
        checkpoint)."""
        return bool(self.r1 or self.r2 or self.gp) and d.lr_schedule.last_epoch % self.every == 0

    def inputs(self, x: Tensor, grad: bool) -> Tensor:
        """``x`` as a penalty differentiates it: a fresh leaf that requires grad, unless it
        already carries a graph (G's samples in the simultaneous step)."""
        if not grad or x.requires_grad:
            return x
        return x.detach().requires_grad_(True)

    def penalty(self, real: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor],
                discriminate: Callable[[Tensor], Tensor]) -> Tensor:
        """The penalties, times ``every`` (called on due updates, with one weight or more on):
        ``real``/``fake`` are (D's inputs, D's outputs), ``discriminate`` D's forward for GP's
        interpolates."""
        terms = []
        if self.r1:
            terms.append(zero_centred_penalty(real[1], real[0], self.r1))
        if self.r2:
            terms.append(zero_centred_penalty(fake[1], fake[0], self.r2))
        if self.gp:
            terms.append(gradient_penalty(discriminate, real[0], fake[0], self.gp))
        return self.every * sum(terms[1:], terms[0])
