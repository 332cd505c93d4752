"""The game's objectives as pure functions of D's logits ``l`` (D(x) = sigmoid(l)), and the
pairs of D and G losses ``game.loss`` chooses among (hinge, least squares, Wasserstein,
relativistic pairing), which read ``l`` as a raw score.

Computed through softplus, never through log(sigmoid): log D = -softplus(-l) and
log(1 - D) = -softplus(l) stay finite for any logit, where the naive forms give log(0).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]; D ascends it, G descends it."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """0.5 * (BCE(D(x), 1) + BCE(D(G(z)), 0)) = -V(D, G) / 2, as the authors' code scales it."""
    return 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())


def generator_loss_minimax(fake_logits: Tensor) -> Tensor:
    """E_z[log(1 - D(G(z)))]: Algorithm 1 as written; saturates when D rejects G's samples."""
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: Tensor) -> Tensor:
    """E_z[-log D(G(z))] = BCE(D(G(z)), 1): the paper's section 3 remedy, strong early gradients."""
    return F.softplus(-fake_logits).mean()


def auxiliary_class_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """AC-GAN's class term -log p(y | x): cross-entropy on raw logits.

    Never a softmax before it: F.cross_entropy applies log-softmax itself, and a softmax in
    front (a bug kept for years in a popular reference) flattens the gradients.
    """
    return F.cross_entropy(class_logits, labels)


GENERATOR_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": generator_loss_minimax,
    "non_saturating": generator_loss_non_saturating,
}


def discriminator_loss_smoothed(real_logits: Tensor, fake_logits: Tensor,
                                smoothing: float) -> Tensor:
    """0.5 * (BCE(D(x), 1 - s) + BCE(D(G(z)), 0)): one-sided label smoothing (Salimans et al.
    2016); only the real target moves, so D is not pushed to reward G's samples.

    BCE(sigmoid(l), t) = t * softplus(-l) + (1 - t) * softplus(l).
    """
    t = 1.0 - smoothing
    real = t * F.softplus(-real_logits) + (1 - t) * F.softplus(real_logits)
    return 0.5 * (real.mean() + F.softplus(fake_logits).mean())


def hinge_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] on raw scores (Lim & Ye 2017; SAGAN)."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]: G raises D's score of its samples."""
    return -fake_logits.mean()


def lsgan_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """0.5 * E[(D(x) - 1)^2] + 0.5 * E[D(G(z))^2] (Mao et al. 2017, targets a=0, b=1)."""
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def lsgan_g(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """0.5 * E[(D(G(z)) - 1)^2] (target c = 1)."""
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def wgan_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: the critic's side of the Wasserstein-1 dual (Arjovsky et al. 2017);
    it needs a Lipschitz D (reg.gp or model.d_spectral_norm)."""
    return fake_logits.mean() - real_logits.mean()


def wgan_g(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_logits.mean()


def rpgan_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E_i[softplus(-(D(x_i) - D(G(z_i))))]: relativistic pairing (Jolicoeur-Martineau 2019;
    R3GAN), each real paired with the fake of the same minibatch position."""
    return F.softplus(-(real_logits - fake_logits)).mean()


def rpgan_g(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """E_i[softplus(-(D(G(z_i)) - D(x_i)))]: G needs D's scores of the paired reals."""
    assert real_logits is not None
    return F.softplus(-(fake_logits - real_logits)).mean()


class LossPair(NamedTuple):
    """D's loss (real, fake) -> scalar and G's loss (real or None, fake) -> scalar; G's loss
    reads the real scores only when ``g_needs_real``. ``name``: its ``game.loss``."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor | None, Tensor], Tensor]
    g_needs_real: bool = False
    name: str = "gan"


PAIRS: dict[str, LossPair] = {
    "hinge": LossPair(hinge_d, hinge_g, name="hinge"),
    "lsgan": LossPair(lsgan_d, lsgan_g, name="lsgan"),
    "wgan": LossPair(wgan_d, wgan_g, name="wgan"),
    "rpgan": LossPair(rpgan_d, rpgan_g, g_needs_real=True, name="rpgan"),
}
LOSS_NAMES = ("gan", *PAIRS)  # game.loss


def loss_pair(name: str, g_loss: str = "non_saturating", smoothing: float = 0.0) -> LossPair:
    """The pair of ``game.loss``; 'gan' is the 2014 game with ``game.g_loss`` as G's loss and
    ``reg.label_smoothing`` on D's real target."""
    if name != "gan":
        return PAIRS[name]
    adversarial = GENERATOR_LOSSES[g_loss]
    d = discriminator_loss if smoothing == 0 else partial(discriminator_loss_smoothed,
                                                          smoothing=smoothing)
    return LossPair(d, lambda real_logits, fake_logits: adversarial(fake_logits))
