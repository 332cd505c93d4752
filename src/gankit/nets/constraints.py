"""Weight-norm constraints: pylearn2's ``max_col_norm``, used by the paper's TFD discriminator.

pylearn2 projects each unit's incoming weight vector back onto the ball of radius ``max_norm``
after every update, keeping the momentum increment as it was. Projecting lazily, just before
the next forward pass, gives the same weights in every forward without touching the trainer or
the optimiser: W_(t+1) = project(W_t + inc) either way.
"""

from __future__ import annotations

import torch
from torch import nn

# Rows are scaled a hair inside the ball, so that a second forward in the same step (the fake
# pass after the real one) finds nothing to project and leaves the saved weights untouched.
_MARGIN = 1 - 1e-6


@torch.no_grad()
def project_rows_(weight: torch.Tensor, max_norm: float) -> bool:
    """Scale the rows (units) of ``weight`` whose L2 norm exceeds ``max_norm``; True if any did."""
    norms = weight.reshape(weight.shape[0], -1).norm(dim=1)
    over = norms > max_norm
    if not bool(over.any()):
        return False
    scale = torch.where(over, max_norm * _MARGIN / norms, torch.ones_like(norms))
    weight.mul_(scale.view(-1, *([1] * (weight.ndim - 1))))
    return True


def max_col_norm_(module: nn.Module, max_norm: float) -> nn.Module:
    """Constrain every Linear layer of ``module`` to unit weight norms <= ``max_norm``."""

    def hook(layer: nn.Module, args: tuple) -> None:
        project_rows_(layer.weight, max_norm)

    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            layer.register_forward_pre_hook(hook)
    return module
