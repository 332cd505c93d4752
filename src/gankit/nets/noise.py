"""The noise prior p_z: uniform on [-sqrt 3, sqrt 3] (unit variance; the paper's) or N(0, I)."""

from __future__ import annotations

import math

import torch

from gankit import rng

PRIORS = ("uniform", "gaussian")


def sample_noise(n: int, dim: int, prior: str = "uniform", device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    if prior == "uniform":
        return rng.rand((n, dim), device, generator).mul_(2 * math.sqrt(3)).sub_(math.sqrt(3))
    if prior == "gaussian":
        return rng.randn((n, dim), device, generator)
    raise ValueError(f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}")
