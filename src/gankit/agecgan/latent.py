"""Step 3 of Age-cGAN: identity-preserving optimisation of the latent code.

Starting from z0 = E(x), find z* = argmin_z d(G(z, y0), x), where d is a squared distance in
the feature space of an identity network F (the paper's face recogniser; here the MNIST
classifier's penultimate layer, or any network the user passes) or, for comparison, in pixel
space. Each example's code is optimised independently (the batch loss is a sum), with Adam,
and kept inside the prior's support when the prior is uniform.

The whole Age-cGAN pipeline works on images in [0, 1], the range of user images and of the
MNIST feature network, whatever G's output unit: ``render`` maps a tanh G's [-1, 1] there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gankit.data.ranges import to_unit
from gankit.errors import GankitError

Tensor = torch.Tensor
FeatureNet = Callable[[Tensor], Tensor]
SPACES = ("feature", "pixel")


def render(g: nn.Module, z: Tensor, y: Tensor) -> Tensor:
    """G(z, y) in [0, 1] (a tanh G's (x + 1) / 2), differentiable in z."""
    return to_unit(g(z, y), getattr(g, "output", "sigmoid"))


def mnist_feature_net() -> FeatureNet:
    """The MNIST classifier's penultimate layer (gankit.metrics), the default identity network."""
    try:
        from gankit.metrics.classifier import load_classifier
    except ImportError:
        raise GankitError("no MNIST feature network in this gankit (gankit.metrics is missing); "
                          "pass a feature network or use the pixel space (--space pixel)"
                          ) from None
    net = load_classifier()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.features


def distance(a: Tensor, b: Tensor, feature_net: FeatureNet | None = None) -> Tensor:
    """Per-example mean squared distance, in pixels or in ``feature_net``'s space: shape (N,)."""
    if feature_net is not None:
        a, b = feature_net(a), feature_net(b)
    return (a - b).pow(2).reshape(a.shape[0], -1).mean(1)


@dataclass
class LatentFit:
    z: Tensor  # (N, noise_dim), the optimised codes
    start: Tensor  # (N,) distance of G(z0, y0) to x in the optimised space
    end: Tensor  # (N,) distance of G(z*, y0) to x


def optimise_latent(g: nn.Module, x: Tensor, y: Tensor, z0: Tensor, *, space: str = "feature",
                    feature_net: FeatureNet | None = None, steps: int = 300,
                    lr: float = 0.03) -> LatentFit:
    """z* = argmin_z d(G(z, y), x) from z0, by ``steps`` Adam steps on each example's own code.

    ``x`` is in [0, 1]; G's images are compared in that range (``render``).

    ``space = "feature"`` measures d in ``feature_net``'s space (default: the MNIST classifier's
    features, for 28x28 images); ``"pixel"`` measures it on the pixels.
    """
    if space not in SPACES:
        raise GankitError(f"unknown optimisation space {space!r}; choose feature or pixel")
    if steps < 0 or lr <= 0:
        raise GankitError(f"latent optimisation needs steps >= 0 and lr > 0, got {steps}, {lr}")
    if space == "feature" and feature_net is None:
        feature_net = mnist_feature_net()
    net = feature_net if space == "feature" else None
    x = x.detach()
    bound = math.sqrt(3) if g.prior == "uniform" else None
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.no_grad():
        start = distance(render(g, z, y), x, net)
    for _ in range(steps):
        loss = distance(render(g, z, y), x, net).sum()
        (z.grad,) = torch.autograd.grad(loss, [z])  # G's and F's weights get no gradient
        opt.step()
        if bound is not None:
            with torch.no_grad():
                z.clamp_(-bound, bound)
    with torch.no_grad():
        end = distance(render(g, z, y), x, net)
    return LatentFit(z.detach(), start, end)
