"""The 2014 paper's fully connected models: a ReLU/sigmoid generator and a maxout discriminator.

Sizes come from the config and the data (784 pixels for MNIST, 64 for the 8x8 digits); the
defaults are the authors' MNIST models (shared/reference/paper-2014.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.dropout import Dropout
from gankit.nets.maxout import Maxout
from gankit.noise import sample_noise

_CLIP = 1e-7


class MLPGenerator(nn.Module):
    """z -> ReLU hidden layers -> sigmoid pixels, reshaped to ``image_shape``."""

    def __init__(self, noise_dim: int, hidden: list[int], image_shape: tuple[int, int, int],
                 prior: str = "uniform", init_range: float = 0.05,
                 pixel_marginals: torch.Tensor | None = None) -> None:
        super().__init__()
        self.noise_dim, self.prior, self.image_shape = noise_dim, prior, tuple(image_shape)
        sizes = [noise_dim, *hidden]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(sizes[-1], math.prod(image_shape))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)
        if pixel_marginals is not None:
            # Start at the data's marginals: sigmoid(bias) = mean of each training pixel.
            p = pixel_marginals.reshape(-1).clamp(_CLIP, 1 - _CLIP).double()
            with torch.no_grad():
                self.out.bias.copy_(torch.log(p) - torch.log1p(-p))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.hidden(z))).view(z.shape[0], *self.image_shape)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(n, self.noise_dim, self.prior, self.out.weight.device, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self(self.sample_noise(n, generator))


class MaxoutDiscriminator(nn.Module):
    """x -> dropout -> maxout layers (each with dropout on its input) -> one logit.

    Dropout keeps ``input_keep`` of the pixels and ``hidden_keep`` of each hidden layer's
    units, scaling kept values by 1/keep; every call draws fresh masks per example, so the
    real and the fake pass get independent masks.
    """

    def __init__(self, image_shape: tuple[int, int, int], units: list[int], pieces: int = 5,
                 init_range: float = 0.005, input_keep: float = 0.8,
                 hidden_keep: float = 0.5) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        sizes = [math.prod(image_shape), *units]
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers += [Dropout(input_keep if i == 0 else hidden_keep),
                       Maxout(fan_in, fan_out, pieces)]
        layers += [Dropout(hidden_keep), nn.Linear(sizes[-1], 1)]
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of 'x came from the data', shape (B,)."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(1)
