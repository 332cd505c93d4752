"""Objectives: D's loss, G's loss and their extra terms, composed in one place per game.

An objective answers three questions the update schedules (``gankit.core.schedules``) ask, in
the order they ask them: what G generates for a batch, D's loss on the batch and those fakes,
and G's loss (reusing D's forward pass on the fakes when the schedule has one).

``GanObjective`` is the 2014 game V(D, G) with the generator loss of ``game.g_loss`` (or
another pair of D and G losses, ``game.loss``: ``gankit.core.losses``), plus the class term of
an AC-GAN discriminator (weight ``condition.aux_weight``) when the batch carries labels: fake
samples then get classes drawn uniformly, and G and D receive them. D's loss adds the
regularisers of ``[reg]`` (``gankit.core.penalties``); D judges its inputs through
``data.augment``'s transforms (``gankit.core.augment``) when they are on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import torch

from gankit import rng
from gankit.core.losses import LossPair, auxiliary_class_loss, discriminator_loss
from gankit.core.penalties import Regularisers, instance_noise
from gankit.core.players import GLoss, Player

Tensor = torch.Tensor


class DTerms(NamedTuple):
    """D's loss and the logits it came from (the log's D(x) and D(G(z)) read them); ``reuse``
    is what G's loss may take from this forward pass instead of running D again."""

    loss: Tensor
    real_logits: Tensor
    fake_logits: Tensor
    reuse: Any = None


class Objective(Protocol):
    def generate(self, g: Player, batch: Any, wrapped: bool = True) -> Any:
        """G's output for the batch (through G's DDP wrapper when ``wrapped``)."""

    def d_loss(self, d: Player, batch: Any, fakes: Any) -> DTerms:
        """D's loss on the real batch and the fakes."""

    def g_loss(self, d: Player, batch: Any, fakes: Any, terms: DTerms | None) -> Tensor:
        """G's loss; ``terms`` holds D's forward on these fakes, or None to run D afresh."""

    def backward(self, player: Player, loss: Tensor, retain_graph: bool = False) -> None:
        """d loss / d the player's parameters, into .grad."""


class Fakes(NamedTuple):
    images: Tensor
    labels: Tensor | None  # the classes G was asked for; None when unconditional


class GanObjective:
    """V(D, G) with ``adversarial`` as G's loss and an optional AC-GAN class term; ``losses``
    replaces the pair of losses (G's loss stays ``adversarial`` for the 'gan' pair), ``reg``
    adds D's regularisers and ``augment`` transforms every image D judges."""

    def __init__(self, adversarial: GLoss, aux_weight: float = 0.0,
                 losses: LossPair | None = None, reg: Regularisers | None = None,
                 augment: Callable[[Tensor], Tensor] | None = None) -> None:
        self.adversarial = adversarial
        self.aux_weight = aux_weight
        self.losses = losses or LossPair(discriminator_loss, lambda real, fake: adversarial(fake))
        self.reg = reg or Regularisers()
        self.augment = augment

    @property
    def plain(self) -> bool:
        """The paper's game: no other loss pair, no regulariser, no augmentation (what the
        fused step writes)."""
        return (self.losses.d is discriminator_loss and not self.reg.active
                and self.augment is None)

    def _seen(self, x: Tensor) -> Tensor:
        """An input as D sees it: augmented, then with instance noise (each when on)."""
        return instance_noise(self.augment(x) if self.augment else x, self.reg.noise)

    def generate(self, g: Player, batch: Any, wrapped: bool = True) -> Fakes:
        labels = _fake_labels(g, batch.labels)
        z = g.net.sample_noise(batch.real.shape[0])
        inputs = (z,) if labels is None else (z, labels)
        return Fakes(g(*inputs) if wrapped else g.net(*inputs), labels)

    def d_loss(self, d: Player, batch: Any, fakes: Fakes) -> DTerms:
        reg = self.reg
        due = reg.due(d)
        real_x = reg.inputs(batch.real, due and bool(reg.r1))
        fake_x = reg.inputs(fakes.images, due and bool(reg.r2))
        real_logits, real_cls = _discriminate(d, self._seen(real_x), batch.labels)
        fake_logits, fake_cls = _discriminate(d, self._seen(fake_x), fakes.labels)
        loss = self.losses.d(real_logits, fake_logits)
        if real_cls is not None:
            loss = loss + self.aux_weight * 0.5 * (auxiliary_class_loss(real_cls, batch.labels)
                                                   + auxiliary_class_loss(fake_cls, fakes.labels))
        if due:
            loss = loss + reg.penalty((real_x, real_logits), (fake_x, fake_logits),
                                      lambda x: _discriminate(d, x, batch.labels)[0])
        return DTerms(loss, real_logits, fake_logits, (fake_logits, fake_cls))

    def g_loss(self, d: Player, batch: Any, fakes: Fakes, terms: DTerms | None) -> Tensor:
        fake_logits, fake_cls = (terms.reuse if terms is not None else _discriminate(
            d, self._seen(fakes.images), fakes.labels, wrapped=False))
        real_logits = None
        if self.losses.g_needs_real:  # D's scores of the reals are constants to G
            if terms is not None:
                real_logits = terms.real_logits.detach()
            else:
                with torch.no_grad():
                    real_logits = _discriminate(d, self._seen(batch.real), batch.labels,
                                                wrapped=False)[0]
        loss = (self.adversarial(fake_logits) if self.losses.name == "gan"
                else self.losses.g(real_logits, fake_logits))
        if fake_cls is not None:
            loss = loss + self.aux_weight * auxiliary_class_loss(fake_cls, fakes.labels)
        return loss

    def backward(self, player: Player, loss: Tensor, retain_graph: bool = False) -> None:
        player.backward(loss, retain_graph=retain_graph)


def _fake_labels(g: Player, real_labels: Tensor | None) -> Tensor | None:
    """Uniform classes for a fake minibatch (None when unconditional; draws nothing then).

    Drawn from gankit.rng's stream like the noise, so N processes draw the 1-process classes.
    """
    if real_labels is None:
        return None
    return rng.randint(g.net.classes, tuple(real_labels.shape), real_labels.device)


def _discriminate(d: Player, x: Tensor, labels: Tensor | None, wrapped: bool = True
                  ) -> tuple[Tensor, Tensor | None]:
    """D's logits and, for a conditional discriminator, its class logits (None without an
    AC-GAN head); through the DDP wrapper when ``wrapped``."""
    if labels is not None:
        return d(x, labels, both=True) if wrapped else d.net.heads(x, labels)
    return (d(x) if wrapped else d.net(x)), None
