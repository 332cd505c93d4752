"""Device choice: ``auto`` takes CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from gankit.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device = 'cuda' but no CUDA device is visible; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device = 'mps' but MPS is not available; use --device cpu")
    return torch.device(name)
