"""Small fully connected G and D for low-dimensional data (``model.arch = "toy"``).

Sized by the same config fields as the image models (noise_dim, prior, g_hidden, d_units);
PyTorch's default initialisation, no dropout. G's output is linear (points are unbounded);
D returns one logit, like every discriminator here, so the same losses and schedules apply.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.noise import sample_noise


def _mlp(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class ToyGenerator(nn.Module):
    """z -> ReLU hidden layers -> linear point of shape ``data_shape`` (e.g. (2,))."""

    def __init__(self, noise_dim: int, hidden: list[int], data_shape: tuple[int, ...],
                 prior: str = "uniform") -> None:
        super().__init__()
        self.noise_dim, self.prior, self.data_shape = noise_dim, prior, tuple(data_shape)
        self.net = _mlp([noise_dim, *hidden, math.prod(data_shape)], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.data_shape)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(n, self.noise_dim, self.prior, self.net[0].weight.device, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self(self.sample_noise(n, generator))


_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class ToyDiscriminator(nn.Module):
    """x -> tanh (or ReLU) hidden layers -> one logit. tanh keeps D(x) smooth, as Figure 1
    draws it; ReLU lets D carve narrow modes (the 5 x 5 grid's std is 0.05) without first
    growing its weights to the scale a tanh needs for such a narrow bump."""

    def __init__(self, data_shape: tuple[int, ...], units: list[int],
                 activation: str = "tanh") -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             + ", ".join(_ACTIVATIONS))
        self.data_shape = tuple(data_shape)
        self.net = _mlp([math.prod(data_shape), *units, 1], _ACTIVATIONS[activation])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of 'x came from the data', shape (B,)."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(1)
