"""The noise prior p_z: uniform on [-sqrt 3, sqrt 3] (unit variance; the paper's) or N(0, I)."""

from __future__ import annotations

import math

import torch

PRIORS = ("uniform", "gaussian")


def sample_noise(n: int, dim: int, prior: str = "uniform", device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    if prior == "uniform":
        u = torch.rand(n, dim, device=device, generator=generator)
        return u.mul_(2 * math.sqrt(3)).sub_(math.sqrt(3))
    if prior == "gaussian":
        return torch.randn(n, dim, device=device, generator=generator)
    raise ValueError(f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}")
