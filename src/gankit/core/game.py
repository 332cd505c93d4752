"""The seam every model kind enters through: a game owns its players' networks, its data
batches, its objective and the figure of its samples; the trainer only loops over it.

A game is built from the config (``gankit.games.build_game``) and handed to
``gankit.training.Trainer``, which never asks what kind of game it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch
from torch import nn

from gankit.core.objective import Objective

Tensor = torch.Tensor


class Batch(NamedTuple):
    """One minibatch as a game's objective reads it: the real examples (a tensor, or a pair of
    tensors for two-domain games) and their class labels where the game is conditional."""

    real: Any
    labels: Tensor | None = None


class Game(Protocol):
    """What the trainer needs from a model kind."""

    data: Any  # the training set: len() and .shape
    device: torch.device  # where its data lies and its players are to train
    g_net: nn.Module
    d_net: nn.Module
    objective: Objective
    fusable: bool  # whether gankit.core.fused may run its update (the paper's MLP game)

    def epoch_batches(self, batch_size: int, order: torch.Generator) -> list[Tensor]:
        """One epoch's minibatches as index tensors (the batch dimension last)."""

    def batch(self, idx: Tensor) -> Batch:
        """The minibatch at ``idx`` (one item of ``epoch_batches``, possibly a slice of it)."""

    def draw_samples(self, g: nn.Module, path: Path, title: str) -> None:
        """Write the figure of G's samples from the game's fixed input (G in eval mode)."""
