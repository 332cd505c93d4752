"""Work per training example: counted by hand from the MLP's layer sizes, or by torch's FLOP
counter for the DCGANs; and the GEMM shapes the matmul probe is timed at."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit.config import Config
from gankit.nets import build_discriminator, build_generator


def layer_shapes(cfg: Config, pixels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(fan_in, fan_out) of every linear map of G and of D (maxout pieces included)."""
    m = cfg.model
    g_sizes = [m.noise_dim, *m.g_hidden, pixels]
    d_sizes = [pixels, *m.d_units]
    g = list(zip(g_sizes[:-1], g_sizes[1:], strict=True))
    d = [(i, o * m.d_pieces) for i, o in zip(d_sizes[:-1], d_sizes[1:], strict=True)]
    return g, d + [(d_sizes[-1], 1)]


def flops_per_sample(cfg: Config, pixels: int) -> dict[str, float]:
    """Multiply-adds x 2 per training example of one simultaneous update, by layer sizes.

    ``useful``: what the update needs: G forward; D forward on the real and the fake example;
    D's weight gradients on both; the logit's Jacobian down D's hidden layers once per example;
    its input gradient on the fake example; G's weight gradients and its hidden input gradients.
    ``plain_loop``: what the alternating hand-written loop computes: D forward three times (real,
    detached fake, fake again for G), D weight gradients three times, D input gradients for both
    backward passes; the same G work.
    """
    g, d = layer_shapes(cfg, pixels)
    mac = [i * o for i, o in g]
    dmac = [i * o for i, o in d]
    g_work = sum(mac) + sum(mac) + sum(mac[1:])  # forward, weight grads, input grads (not z)
    d_hidden = sum(dmac[1:])  # input gradients below layer 1
    useful = g_work + 2 * sum(dmac) + 2 * sum(dmac) + 2 * d_hidden + dmac[0]
    plain = g_work + 3 * sum(dmac) + 3 * sum(dmac) + 2 * d_hidden + sum(dmac)
    return {"useful": 2.0 * useful, "plain_loop": 2.0 * plain}


def model_gemm_shapes(cfg: Config, pixels: int, batch: int) -> list[tuple[int, int, int]]:
    """The forward products of both models at this batch (D over real and fake together)."""
    g, d = layer_shapes(cfg, pixels)
    return [(batch, i, o) for i, o in g] + [(2 * batch, i, o) for i, o in d if o > 1]


def counted_flops(loop: Any, batch: int) -> float:
    """FLOPs per training example of one step of ``loop``, counted by torch's FLOP counter
    (matrix products and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loop(1)
    return counter.get_total_flops() / batch


def conv_gemm_shapes(cfg: Config, shape: tuple[int, int, int], batch: int
                     ) -> list[tuple[int, int, int]]:
    """(m, k, n) of the forward products of G's and D's convolutions as im2col GEMMs."""
    g, d = build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)
    shapes: list[tuple[int, int, int]] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if isinstance(module, nn.ConvTranspose2d):
            b, c, h, w = inputs[0].shape
            k = module.kernel_size[0] * module.kernel_size[1]
            shapes.append((b * h * w, c, module.out_channels * k))
        elif isinstance(module, nn.Conv2d):
            b, _, h, w = out.shape
            k = module.kernel_size[0] * module.kernel_size[1]
            shapes.append((b * h * w, module.in_channels * k, module.out_channels))
        elif isinstance(module, nn.Linear):
            shapes.append((inputs[0].shape[0], module.in_features, module.out_features))

    hooks = [m.register_forward_hook(record) for net in (g, d) for m in net.modules()]
    with torch.no_grad():
        d(g(g.sample_noise(batch)))
    for h in hooks:
        h.remove()
    return shapes
