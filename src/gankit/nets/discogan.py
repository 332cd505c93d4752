"""DiscoGAN's networks (Kim et al. 2017, arXiv 1703.05192), independent of the noise GANs.

- Generator: a convolutional encoder-decoder mapping an image of one domain to the other.
  Encoder: 4x4 convolutions of stride 2 with leaky ReLU (slope 0.2) halve the image down to
  4x4 (3x3 kernels where a side is odd, e.g. 7 -> 4 for MNIST), then, with
  ``global_bottleneck``, one more 4x4 convolution to 1x1: the paper's 4- or 5-layer variants.
  ``depth`` > 0 stops after that many halvings: a smaller G (not the paper's) whose code keeps
  the layout of the image. Decoder: the mirror image in transposed convolutions with ReLU,
  sigmoid output in [0, 1].
  Batch norm on every layer but the first and the last, as in the paper.
- Discriminator: the encoder, then a final convolution over the whole remaining map to one
  logit (the paper's sigmoid lives in the loss, computed from logits).
- ``arch = "warp"`` (not the paper's): G is a spatial transformer (Jaderberg et al. 2015): the
  encoder reads the image and a linear layer, started at the identity, gives a similarity map
  (turn, scale, shift) through which the output resamples the input. It can only move pixels,
  so it can express geometric relations (rotation) that the encoder-decoder fails to find,
  and nothing else. D stays the paper's conv D.
- For the paper's 2-D toy experiment: fully connected ReLU networks on points.
- ``d_spectral_norm`` (not the paper's): spectral norm (Miyato et al. 2018) on every linear
  and conv layer of D_A and D_B (``gankit.nets.stabilise.spectral_norm_``).

Widths double per layer from ``width`` (the paper: 64) up to 8x.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import DiscoGANConfig
from gankit.errors import ConfigError
from gankit.nets.stabilise import spectral_norm_


def spatial_sizes(size: int, depth: int = 0) -> list[int]:
    """Side lengths from the image down to 4 (28 -> [28, 14, 7, 4]; 64 -> [64, ..., 4]), or
    only ``depth`` halvings when depth > 0 (a shallower G: 28, depth 2 -> [28, 14, 7])."""
    if size < 8:
        raise ConfigError(f"DiscoGAN's conv nets need images of at least 8x8, got {size}x{size}")
    sizes = [size]
    while sizes[-1] > 4 and (depth == 0 or len(sizes) <= depth):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def _widths(width: int, n: int) -> list[int]:
    return [width * min(2 ** i, 8) for i in range(n)]


def _down(c_in: int, c_out: int, side: int, norm: bool) -> list[nn.Module]:
    kernel = 4 if side % 2 == 0 else 3  # both give ceil(side / 2)
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, nn.LeakyReLU(0.2)]


def encoder_layers(channels: int, size: int, width: int, global_bottleneck: bool,
                   depth: int = 0) -> tuple[list[nn.Module], int]:
    """The shared encoder (G's first half, D's body); returns layers and output channels."""
    sides = spatial_sizes(size, depth)
    widths = _widths(width, len(sides) - 1 + int(global_bottleneck))
    layers: list[nn.Module] = []
    c = channels
    for i, side in enumerate(sides[:-1]):
        layers += _down(c, widths[i], side, norm=i > 0)
        c = widths[i]
    if global_bottleneck:
        layers += [nn.Conv2d(c, widths[-1], sides[-1], 1, 0, bias=False),
                   nn.BatchNorm2d(widths[-1]), nn.LeakyReLU(0.2)]
        c = widths[-1]
    return layers, c


class ConvTranslator(nn.Module):
    """G: image of domain X -> image of domain Y, same shape (C, H, W) with H = W."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64,
                 global_bottleneck: bool = True, depth: int = 0) -> None:
        super().__init__()
        c, h, w = image_shape
        if h != w:
            raise ConfigError(f"DiscoGAN's conv nets need square images, got {h}x{w}")
        self.image_shape = tuple(image_shape)
        enc, c_mid = encoder_layers(c, h, width, global_bottleneck, depth)
        self.encoder = nn.Sequential(*enc)
        sides = spatial_sizes(h, depth)
        widths = _widths(width, len(sides) - 1 + int(global_bottleneck))
        dec: list[nn.Module] = []
        if global_bottleneck:
            dec += [nn.ConvTranspose2d(c_mid, widths[-2], sides[-1], 1, 0, bias=False),
                    nn.BatchNorm2d(widths[-2]), nn.ReLU()]
            c_mid = widths[-2]
        # Up from 4 to the image: side s -> 2s (kernel 4) or 2s - 1 (kernel 3).
        ups = list(reversed(sides))
        outs = list(reversed(widths[:len(sides) - 1]))[1:] + [c]
        for i, (small, big) in enumerate(zip(ups[:-1], ups[1:], strict=True)):
            kernel = 4 if big == 2 * small else 3
            last = i == len(ups) - 2
            dec.append(nn.ConvTranspose2d(c_mid, outs[i], kernel, 2, 1, bias=last))
            if not last:
                dec += [nn.BatchNorm2d(outs[i]), nn.ReLU()]
            c_mid = outs[i]
        dec.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class WarpTranslator(nn.Module):
    """G that moves pixels: image -> similarity map (from the image itself) -> resampled image.

    The map [[a, -b, tx], [b, a, ty]] turns by atan2(b, a) and scales by sqrt(a^2 + b^2): no
    shear, and never a mirror image (its determinant a^2 + b^2 is never negative), so a map
    that fools D must turn the image rather than distort it. It starts as the identity (zero
    weights, bias a = 1), and a, b enter linearly, so the way from 0 to 90 degrees is smooth.
    """

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64) -> None:
        super().__init__()
        c, h, w = image_shape
        if h != w:
            raise ConfigError(f"DiscoGAN's conv nets need square images, got {h}x{w}")
        self.image_shape = tuple(image_shape)
        enc, c_mid = encoder_layers(c, h, width, global_bottleneck=False)
        side = spatial_sizes(h)[-1]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.similarity = nn.Linear(c_mid * side * side, 4)  # a, b, tx, ty
        nn.init.zeros_(self.similarity.weight)
        with torch.no_grad():
            self.similarity.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, tx, ty = self.similarity(self.encoder(x)).unbind(1)
        theta = torch.stack([a, -b, tx, b, a, ty], 1).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)


class ConvDiscriminator(nn.Module):
    """D: image -> one logit; the encoder, then a convolution over the whole last map."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64) -> None:
        super().__init__()
        c, h, _ = image_shape
        enc, c_mid = encoder_layers(c, h, width, global_bottleneck=False)
        self.body = nn.Sequential(*enc)
        self.head = nn.Conv2d(c_mid, 1, spatial_sizes(h)[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


def _mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return [*layers, nn.Linear(sizes[-2], sizes[-1])]


class PointTranslator(nn.Module):
    """G for the toy experiment: a point of R^d (stored as (N, d, 1, 1)) -> a point of R^d."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: list[int]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        d = math.prod(image_shape)
        self.net = nn.Sequential(*_mlp([d, *hidden, d]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).view(x.shape)


class PointDiscriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], hidden: list[int]) -> None:
        super().__init__()
        self.net = nn.Sequential(*_mlp([math.prod(image_shape), *hidden, 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).flatten()


def build_translator(cfg: DiscoGANConfig, image_shape: tuple[int, int, int]) -> nn.Module:
    if cfg.arch == "mlp":
        return PointTranslator(image_shape, list(cfg.hidden))
    if cfg.arch == "warp":
        return WarpTranslator(image_shape, cfg.width)
    return ConvTranslator(image_shape, cfg.width, cfg.global_bottleneck, cfg.depth)


def build_critic(cfg: DiscoGANConfig, image_shape: tuple[int, int, int]) -> nn.Module:
    if cfg.arch == "mlp":
        return PointDiscriminator(image_shape, list(cfg.hidden))
    return ConvDiscriminator(image_shape, cfg.width)


def build_pairs(cfg: DiscoGANConfig, image_shape: tuple[int, int, int]
                ) -> tuple[nn.ModuleDict, nn.ModuleDict]:
    """G = {ab: G_AB, ba: G_BA} and D = {a: D_A, b: D_B}: each pair is one player. With
    ``d_spectral_norm``, spectral norm on both critics, put on after both are built (so their
    initial weights are those of the run without it)."""
    g = nn.ModuleDict({"ab": build_translator(cfg, image_shape),
                       "ba": build_translator(cfg, image_shape)})
    d = nn.ModuleDict({"a": build_critic(cfg, image_shape), "b": build_critic(cfg, image_shape)})
    if cfg.d_spectral_norm:
        for critic in d.values():
            spectral_norm_(critic)
    return g, d
