"""Step 4 of Age-cGAN, and the whole pipeline: encode, optimise, regenerate under new classes.

transfer(g, E, x, targets) keeps each image's latent code z* (its "identity"; for digits its
handwriting style) and redraws it as G(z*, y) for every target class y. The source class y0 is
given, or inferred as the class whose G(E(x), y) lies closest to x (analysis by synthesis: no
classifier needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gankit.agecgan.latent import (
    FeatureNet,
    LatentFit,
    distance,
    optimise_latent,
    render,
)
from gankit.errors import GankitError

Tensor = torch.Tensor


@dataclass
class Transfer:
    original: Tensor  # (N, C, H, W), in [0, 1] like every image here
    source: Tensor  # (N,) the class y0 each image was reconstructed under
    z_encoded: Tensor  # (N, noise_dim) E(x)
    z: Tensor  # (N, noise_dim) z* after the identity-preserving optimisation
    encoded: Tensor  # (N, C, H, W) G(E(x), y0)
    reconstruction: Tensor  # (N, C, H, W) G(z*, y0)
    targets: Tensor  # (T,)
    regenerated: Tensor  # (N, T, C, H, W) G(z*, targets[t])
    fit: LatentFit


def check_classes(g: nn.Module, classes: Tensor | list[int], what: str) -> Tensor:
    y = torch.as_tensor(classes).long().flatten()
    if len(y) == 0 or int(y.min()) < 0 or int(y.max()) >= g.classes:
        raise GankitError(f"{what} must be classes in 0..{g.classes - 1}, got {y.tolist()}")
    return y


@torch.no_grad()
def infer_source(g: nn.Module, x: Tensor, z: Tensor) -> Tensor:
    """For each image, the class y minimising the pixel distance of G(z, y) to x."""
    errors = torch.stack([distance(render(g, z, torch.full((len(x),), c)), x)
                          for c in range(g.classes)])
    return errors.argmin(0)


@torch.no_grad()
def regenerate(g: nn.Module, z: Tensor, targets: Tensor) -> Tensor:
    """G(z_i, t) in [0, 1] for every code and target: (N, T, C, H, W)."""
    n, t = len(z), len(targets)
    images = render(g, z.repeat_interleave(t, 0), targets.repeat(n))
    return images.view(n, t, *images.shape[1:])


def invert(g: nn.Module, encoder: nn.Module, x: Tensor, source: Tensor | list[int] | None = None,
           *, space: str = "feature", feature_net: FeatureNet | None = None, steps: int = 300,
           lr: float = 0.03) -> tuple[Tensor, Tensor, LatentFit]:
    """Steps 2 and 3: z0 = E(x), then z* by identity-preserving optimisation.

    Returns (y0, z0, fit); ``fit.z`` is z*.
    """
    if tuple(x.shape[1:]) != tuple(g.image_shape):
        raise GankitError(f"images of shape {tuple(x.shape[1:])} do not fit this generator's "
                          f"{tuple(g.image_shape)}")
    with torch.no_grad():
        z0 = encoder(x)
    if source is None:
        y0 = infer_source(g, x, z0)
    else:
        y0 = check_classes(g, source, "source classes")
        y0 = y0.expand(len(x)) if len(y0) == 1 else y0
        if len(y0) != len(x):
            raise GankitError(f"{len(x)} images but {len(y0)} source classes")
    fit = optimise_latent(g, x, y0, z0, space=space, feature_net=feature_net, steps=steps, lr=lr)
    return y0, z0, fit


def transfer(g: nn.Module, encoder: nn.Module, x: Tensor, targets: Tensor | list[int],
             source: Tensor | list[int] | None = None, *, space: str = "feature",
             feature_net: FeatureNet | None = None, steps: int = 300,
             lr: float = 0.03) -> Transfer:
    """The Age-cGAN pipeline on images ``x``: invert, then regenerate under each target class."""
    targets = check_classes(g, targets, "target classes")
    y0, z0, fit = invert(g, encoder, x, source, space=space, feature_net=feature_net,
                         steps=steps, lr=lr)
    with torch.no_grad():
        encoded, reconstruction = render(g, z0, y0), render(g, fit.z, y0)
    return Transfer(x, y0, z0, fit.z, encoded, reconstruction, targets,
                    regenerate(g, fit.z, targets), fit)


def transfer_rows(t: Transfer) -> Tensor:
    """Images for a figure: per input, [original, G(E(x), y0), G(z*, y0), G(z*, t) ...]."""
    fixed = torch.stack([t.original, t.encoded, t.reconstruction], 1)
    return torch.cat([fixed, t.regenerated], 1).flatten(0, 1)
