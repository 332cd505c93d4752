"""The 2014 paper's convolutional CIFAR-10 models (docs/paper.md).

G: 100 -> ReLU 8000 -> sigmoid 8000 -> reshape 80x10x10 -> one linear transposed convolution
(3 channels, 5x5, stride 3, no padding) -> 32x32, i.e. (10 - 1) * 3 + 5 = 32.
D: three maxout convolution layers, then maxout 500x5 and one logit:

    layer  units x pieces  kernel  pad  pool / stride   map
    1      32 x 2          8x8     4    4 / 2           32 -> 33 -> 16
    2      32 x 2          8x8     3    4 / 2           16 -> 15 -> 7
    3      192 x 2         5x5     3    2 / 2           7 -> 9 -> 5

Pooling rounds up as cuda-convnet's (the authors' backend) does, hence ``ceil_mode``. The
max over pieces and the max over a pooling window commute, so their order does not matter.
Dropout and initial weight ranges are the MLP models' (config d_*_keep, *_init_range); the
reference gives none for these models.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.dropout import Dropout
from gankit.nets.maxout import Maxout
from gankit.nets.mlp import MLPGenerator

# (units, pieces, kernel, pad, pool, pool stride) of D's three convolutional layers.
D_CONV_LAYERS = ((32, 2, 8, 4, 4, 2), (32, 2, 8, 3, 4, 2), (192, 2, 5, 3, 2, 2))
D_MAXOUT = (500, 5)
G_MAP = (80, 10, 10)  # the 8000 hidden units as a map for the transposed convolution


class ConvMaxout(nn.Module):
    """A convolution with ``units * pieces`` channels, max over each unit's contiguous pieces,
    then max pooling."""

    def __init__(self, in_channels: int, units: int, pieces: int, kernel: int, pad: int,
                 pool: int, stride: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.conv = nn.Conv2d(in_channels, units * pieces, kernel, padding=pad)
        self.pool = nn.MaxPool2d(pool, stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        b, _, h, w = y.shape
        return self.pool(y.view(b, self.units, self.pieces, h, w).amax(2))


class PaperConvGenerator(nn.Module):
    """An MLP whose last hidden layer (8000 units) is read as an 80x10x10 map, then one linear
    transposed convolution to the 32x32 image."""

    output = "linear"

    def __init__(self, noise_dim: int, hidden: list[int], image_shape: tuple[int, int, int],
                 prior: str = "uniform", init_range: float = 0.05,
                 activations: list[str] | None = None) -> None:
        super().__init__()
        if math.prod(G_MAP) != hidden[-1] or tuple(image_shape[1:]) != (32, 32):
            raise ValueError(f"the paper's conv generator maps {math.prod(G_MAP)} hidden units "
                             f"to 32x32 images; got {hidden[-1]} units and {image_shape}")
        acts = list(activations or ["relu"] * (len(hidden) - 1) + ["sigmoid"])
        self.noise_dim, self.prior, self.image_shape = noise_dim, prior, tuple(image_shape)
        # The MLP's "output layer" is the last hidden layer, shaped as the map.
        self.body = MLPGenerator(noise_dim, hidden[:-1], G_MAP, prior, init_range,
                                 activations=acts[:-1] or None, output=acts[-1])
        self.deconv = nn.ConvTranspose2d(G_MAP[0], image_shape[0], 5, stride=3)
        nn.init.uniform_(self.deconv.weight, -init_range, init_range)
        nn.init.zeros_(self.deconv.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.body(z))

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.body.sample_noise(n, generator)


class PaperConvDiscriminator(nn.Module):
    """dropout -> three maxout conv layers (dropout on each input) -> maxout 500x5 -> logit."""

    def __init__(self, image_shape: tuple[int, int, int], init_range: float = 0.005,
                 input_keep: float = 0.8, hidden_keep: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, side = image_shape[0], image_shape[1]
        for i, (units, pieces, kernel, pad, pool, stride) in enumerate(D_CONV_LAYERS):
            layers += [Dropout(input_keep if i == 0 else hidden_keep),
                       ConvMaxout(channels, units, pieces, kernel, pad, pool, stride)]
            channels = units
            side = side + 2 * pad - kernel + 1
            side = math.ceil((side - pool) / stride) + 1
        layers += [nn.Flatten(), Dropout(hidden_keep),
                   Maxout(channels * side * side, *D_MAXOUT), Dropout(hidden_keep),
                   nn.Linear(D_MAXOUT[0], 1)]
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
