"""DCGAN (Radford et al., 2015): strided convolutions, batch norm, ReLU in G, LeakyReLU in D.

The spatial plan follows the image size: G starts from a ``start`` x ``start`` map (3 to 8
pixels) and doubles it ``n`` times (28 = 7 * 2^2, 32 = 4 * 2^3, 48 = 3 * 2^4, 64 = 4 * 2^4);
D mirrors it. Widths double at every halving of size from the base width (64 in the paper),
so a 64x64 G runs 512 -> 256 -> 128 -> 64 -> channels. Convolutions feeding a batch norm
carry no bias (the norm's shift replaces it). Weights start N(0, 0.02), batch-norm scales
N(1, 0.02) and shifts 0, as in the authors' code. D has no batch norm on its input layer; its
real and fake batches are normalised separately because the schedules call it once for each.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.nets.noise import sample_noise

INIT_STD = 0.02


def spatial_plan(size: int) -> tuple[int, int]:
    """(start, doublings) with start * 2**doublings == size, start in 3..8, doublings >= 1."""
    doublings = 0
    while size % (2 ** (doublings + 1)) == 0 and size // 2 ** (doublings + 1) >= 3:
        doublings += 1
    start = size // 2**doublings
    if doublings == 0 or start > 8:
        raise ValueError(f"DCGAN needs a square image whose side is 3..8 times a power of two "
                         f"(28, 32, 48, 64, 128 ...), not {size}; set data.image_size")
    return start, doublings


def init_weights_(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) scales and zero shifts for batch norms."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


def _square_side(image_shape: tuple[int, int, int]) -> int:
    _, h, w = image_shape
    if h != w:
        raise ValueError(f"DCGAN needs square images, got {h}x{w}; set data.image_size")
    return h


class DCGANGenerator(nn.Module):
    """z -> transposed conv to start x start -> [BN, ReLU, up-conv] * n -> tanh image."""

    output = "tanh"

    def __init__(self, noise_dim: int, image_shape: tuple[int, int, int], width: int = 64,
                 prior: str = "gaussian") -> None:
        super().__init__()
        self.noise_dim, self.prior, self.image_shape = noise_dim, prior, tuple(image_shape)
        start, n = spatial_plan(_square_side(image_shape))
        channels = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 512, 256, 128, 64
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(noise_dim, channels[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]), nn.ReLU(True)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(channels[-1], image_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.noise_dim, 1, 1))

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(n, self.noise_dim, self.prior, self.net[0].weight.device, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self(self.sample_noise(n, generator))


class DCGANDiscriminator(nn.Module):
    """image -> [strided conv, (BN), LeakyReLU 0.2] * n -> conv over start x start -> logit."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64,
                 slope: float = 0.2) -> None:
        super().__init__()
        start, n = spatial_plan(_square_side(image_shape))
        channels = [width * 2**i for i in range(n)]  # e.g. 64, 128, 256, 512
        layers: list[nn.Module] = [nn.Conv2d(image_shape[0], channels[0], 4, 2, 1),
                                   nn.LeakyReLU(slope, True)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(slope, True)]
        layers += [nn.Conv2d(channels[-1], 1, start, 1, 0)]
        self.net = nn.Sequential(*layers)
        init_weights_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of 'x came from the data', shape (B,)."""
        return self.net(x).view(x.shape[0])
