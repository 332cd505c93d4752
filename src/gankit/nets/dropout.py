"""Dropout whose masks come from gankit.rng, so data-parallel runs see the 1-process masks."""

from __future__ import annotations

import torch
from torch import nn

from gankit import rng


class Dropout(nn.Module):
    """Keep each unit with probability ``keep`` and scale kept values by 1/keep (training only)."""

    def __init__(self, keep: float) -> None:
        super().__init__()
        self.keep = keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.keep >= 1.0:
            return x
        mask = rng.rand(tuple(x.shape), x.device) < self.keep
        return x * mask * (1.0 / self.keep)

    def extra_repr(self) -> str:
        return f"keep={self.keep}"
