"""The 2014 paper's fully connected models: a ReLU/sigmoid generator and a maxout discriminator.

Sizes come from the config and the data (784 pixels for MNIST, 64 for the 8x8 digits); the
defaults are the authors' MNIST models (docs/paper.md). Per-layer hidden
activations, the output unit and a max column norm on D cover their TFD and CIFAR-10 models
(G 100 -> ReLU 8000 -> sigmoid 8000 -> sigmoid or linear pixels).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.constraints import max_col_norm_
from gankit.nets.dropout import Dropout
from gankit.nets.maxout import Maxout
from gankit.nets.noise import sample_noise

_CLIP = 1e-7
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
OUTPUTS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "linear": lambda x: x}


class MLPGenerator(nn.Module):
    """z -> hidden layers (ReLU unless ``activations`` says) -> ``output`` pixels, reshaped.

    With a sigmoid output and ``pixel_marginals`` the output bias starts at the data's
    per-pixel logit, as the authors' code does; other outputs start at bias 0.
    """

    def __init__(self, noise_dim: int, hidden: list[int], image_shape: tuple[int, int, int],
                 prior: str = "uniform", init_range: float = 0.05,
                 pixel_marginals: torch.Tensor | None = None,
                 activations: list[str] | None = None, output: str = "sigmoid") -> None:
        super().__init__()
        self.noise_dim, self.prior, self.image_shape = noise_dim, prior, tuple(image_shape)
        self.output = output
        activations = list(activations or ["relu"] * len(hidden))
        if len(activations) != len(hidden):
            raise ValueError(f"{len(activations)} activations for {len(hidden)} hidden layers")
        sizes = [noise_dim, *hidden]
        layers: list[nn.Module] = []
        for fan_in, fan_out, act in zip(sizes[:-1], sizes[1:], activations, strict=True):
            layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[act]()]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(sizes[-1], math.prod(image_shape))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)
        if pixel_marginals is not None and output == "sigmoid":
            # Start at the data's marginals: sigmoid(bias) = mean of each training pixel.
            p = pixel_marginals.reshape(-1).clamp(_CLIP, 1 - _CLIP).double()
            with torch.no_grad():
                self.out.bias.copy_(torch.log(p) - torch.log1p(-p))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return OUTPUTS[self.output](self.out(self.hidden(z))).view(z.shape[0], *self.image_shape)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(n, self.noise_dim, self.prior, self.out.weight.device, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self(self.sample_noise(n, generator))


class MaxoutDiscriminator(nn.Module):
    """x -> dropout -> maxout layers (each with dropout on its input) -> one logit.

    Dropout keeps ``input_keep`` of the pixels and ``hidden_keep`` of each hidden layer's
    units, scaling kept values by 1/keep; every call draws fresh masks per example, so the
    real and the fake pass get independent masks. ``max_col_norm`` > 0 keeps each unit's
    incoming weight vector within that L2 norm (pylearn2's max_col_norm; see constraints).
    """

    def __init__(self, image_shape: tuple[int, int, int], units: list[int], pieces: int = 5,
                 init_range: float = 0.005, input_keep: float = 0.8,
                 hidden_keep: float = 0.5, max_col_norm: float = 0.0) -> None:
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
        if max_col_norm > 0:
            max_col_norm_(self, max_col_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of 'x came from the data', shape (B,)."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(1)
