"""An exponential moving average (EMA) of the generator's weights, kept beside G as it trains.

G's iterates circle around the game's equilibrium; their running average sits nearer its centre
and gives better samples than the last iterate (Yazici et al. 2019), at no cost to training.
After the t-th update of G (t = 1, 2, ...) every parameter of the average moves as

    ema <- decay_t * ema + (1 - decay_t) * w,   decay_t = min(decay, (1 + t) / (10 + t))

(``warmup``; without it decay_t = decay). The warm-up lets the average forget G's random
initial weights within the first few hundred updates instead of over 1 / (1 - decay) of them.
Buffers (batch-norm running statistics) are copied from G, not averaged: they belong to the
weights G has now, and the average's layers are fed statistics of the same scale.

The update draws no random numbers and writes nothing to G, so training with the average on
ends with the same weights as without it, and it is the same on every rank of a data-parallel
run because the weights are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from gankit.config import TrainConfig


def warmup_decay(decay: float, t: int) -> float:
    """The decay of update ``t`` (1-based) under the warm-up: min(decay, (1 + t) / (10 + t))."""
    return min(decay, (1 + t) / (10 + t))


class GeneratorEMA:
    """The averaged generator ``net`` (a copy of G, never trained) and its update rule."""

    def __init__(self, g: nn.Module, decay: float, warmup: bool = True) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"an EMA decay must lie in (0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.net = copy.deepcopy(g).requires_grad_(False).eval()

    @classmethod
    def for_config(cls, cfg: TrainConfig, g: nn.Module) -> GeneratorEMA | None:
        """The average ``train.ema`` asks for, starting at G's weights; None when it is 0."""
        return cls(g, cfg.ema, cfg.ema_warmup) if cfg.ema else None

    def decay_at(self, t: int) -> float:
        """The decay of the t-th update of G (t counts from 1)."""
        return warmup_decay(self.decay, t) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, g: nn.Module, t: int) -> None:
        """Move the average towards G's weights after G's t-th update; copy G's buffers."""
        weight = 1.0 - self.decay_at(t)
        # One fused multi-tensor pass (what torch.optim's foreach paths use): about a third
        # faster than a lerp_ per tensor on the paper's G, where it is memory-bound.
        torch._foreach_lerp_(list(self.net.parameters()), list(g.parameters()), weight)
        for mine, theirs in zip(self.net.buffers(), g.buffers(), strict=True):
            mine.copy_(theirs)

    @torch.no_grad()
    def reset(self, g: nn.Module) -> None:
        """Start the average again at G's weights (a checkpoint without one was resumed)."""
        self.net.load_state_dict(g.state_dict())
