"""Maxout (Goodfellow et al., 2013): the max over contiguous groups of linear pieces."""

from __future__ import annotations

import torch
from torch import nn


class Maxout(nn.Module):
    """``units`` outputs, each the max of ``pieces`` affine maps of the input.

    Pieces are contiguous in the linear layer's output (unit i owns rows i*pieces ...
    i*pieces + pieces - 1), as in pylearn2, so weights map one to one onto the authors' layout.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)
