"""The game's objectives as pure functions of D's logits ``l`` (D(x) = sigmoid(l)).

Computed through softplus, never through log(sigmoid): log D = -softplus(-l) and
log(1 - D) = -softplus(l) stay finite for any logit, where the naive forms give log(0).
"""

from __future__ import annotations

from collections.abc import Callable

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
