"""Update schedules: how one training iteration turns minibatches into updates of D and G,
written once over any objective (``gankit.core.objective``).

- ``simultaneous`` (the authors' code): one minibatch, one forward pass; D's and G's gradients
  both come from it and both players update at once.
- ``alternating`` (Algorithm 1 as printed): k steps on D, each on a fresh minibatch and fresh
  samples of G, then one step on G with fresh samples.

G's loss always uses a D forward with dropout active, as in the authors' code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gankit.core.objective import DTerms, Objective
from gankit.core.players import Player, StepStats

Tensor = torch.Tensor


class SimultaneousStep:
    """One minibatch; both gradients are taken before either player moves."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective

    def __call__(self, g: Player, d: Player, batches: Sequence[Any]) -> StepStats:
        obj = self.objective
        (batch,) = batches
        fakes = obj.generate(g, batch)
        terms = obj.d_loss(d, batch, fakes)
        loss_g = obj.g_loss(d, batch, fakes, terms)
        obj.backward(d, terms.loss, retain_graph=True)
        obj.backward(g, loss_g)
        d.step()
        g.step()
        return stats(terms, loss_g)


class AlternatingStep:
    """len(batches) = k discriminator steps, then one generator step on the last batch."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective

    def __call__(self, g: Player, d: Player, batches: Sequence[Any]) -> StepStats:
        obj = self.objective
        for batch in batches:
            with torch.no_grad():
                fakes = obj.generate(g, batch, wrapped=False)
            terms = obj.d_loss(d, batch, fakes)
            obj.backward(d, terms.loss)
            d.step()
        fakes = obj.generate(g, batches[-1])
        loss_g = obj.g_loss(d, batches[-1], fakes, None)
        obj.backward(g, loss_g)
        g.step()
        return stats(terms, loss_g)


def stats(terms: DTerms, loss_g: Tensor) -> StepStats:
    return StepStats(terms.loss.detach(), loss_g.detach(),
                     torch.sigmoid(terms.real_logits.detach()).mean(),
                     torch.sigmoid(terms.fake_logits.detach()).mean())


SCHEDULES = {"simultaneous": SimultaneousStep, "alternating": AlternatingStep}


def batches_per_step(schedule: str, d_steps: int) -> int:
    """Minibatches one iteration consumes: 1 when simultaneous, k when alternating."""
    return 1 if schedule == "simultaneous" else d_steps
