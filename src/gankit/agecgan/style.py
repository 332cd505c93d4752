"""Handwriting style measured on images: slant and stroke thickness, and how well a swap keeps it.

For digits the "identity" that Age-cGAN should keep across a change of class is the writer's
style. Its two largest factors of variation in MNIST are slant and stroke thickness (they are
the attributes Morpho-MNIST, Castro et al. 2019, measures and perturbs). Both are measured here
from the pixels alone, with no learned network, so they cannot share a bias with G or with the
feature network used for the optimisation:

- slant: the shear angle of the ink distribution, atan(mu_xy / mu_yy) from its second central
  moments (x to the right, y upwards), in degrees; positive leans right;
- thickness: 2 * area / perimeter of the ink (pixels > 0.5), in pixels: a stroke of width t and
  length L has area t L and perimeter about 2 L.

``style_agreement`` asks whether a source's style survives a change of class: each attribute
is standardised within its class (removing what the class alone explains, e.g. a 1 is thinner
than an 8), then correlated between sources and their regenerations. A random latent code gives
a correlation near 0; a perfect keeper of style gives 1.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def slant(images: Tensor) -> Tensor:
    """Shear angle of each image's ink in degrees, (N,)."""
    x = images.reshape(images.shape[0], images.shape[-2], images.shape[-1]).double()
    h, w = x.shape[1:]
    rows = torch.arange(h, dtype=x.dtype).view(1, h, 1)
    cols = torch.arange(w, dtype=x.dtype).view(1, 1, w)
    mass = x.sum((1, 2)).clamp_min(1e-9)
    cy = (x * rows).sum((1, 2)) / mass
    cx = (x * cols).sum((1, 2)) / mass
    dy = -(rows - cy.view(-1, 1, 1))  # upwards
    dx = cols - cx.view(-1, 1, 1)
    mu_xy = (x * dx * dy).sum((1, 2))
    mu_yy = (x * dy * dy).sum((1, 2)).clamp_min(1e-9)
    return torch.rad2deg(torch.atan(mu_xy / mu_yy)).float()


def thickness(images: Tensor, threshold: float = 0.5) -> Tensor:
    """Mean stroke width in pixels, 2 * area / perimeter of the thresholded ink, (N,)."""
    ink = (images.reshape(images.shape[0], images.shape[-2], images.shape[-1]) > threshold)
    ink = torch.nn.functional.pad(ink.float(), (1, 1, 1, 1))
    area = ink.sum((1, 2))
    perimeter = ((ink[:, 1:, :] - ink[:, :-1, :]).abs().sum((1, 2))
                 + (ink[:, :, 1:] - ink[:, :, :-1]).abs().sum((1, 2)))
    return 2 * area / perimeter.clamp_min(1)


STYLES = {"slant": slant, "thickness": thickness}


def standardise_within(values: Tensor, classes: Tensor) -> Tensor:
    """Each value minus its class mean, over its class standard deviation."""
    out = torch.zeros_like(values, dtype=torch.float64)
    for c in classes.unique():
        m = classes == c
        v = values[m].double()
        out[m] = (v - v.mean()) / v.std().clamp_min(1e-9) if m.sum() > 1 else 0.0
    return out


def pearson(a: Tensor, b: Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denom = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / denom if denom > 0 else 0.0


def style_agreement(sources: Tensor, source_classes: Tensor, outputs: Tensor,
                    output_classes: Tensor, style: str = "slant") -> float:
    """Correlation of a style attribute between sources and outputs, each within its class.

    ``outputs[i]`` is the regeneration of ``sources[i]`` as class ``output_classes[i]``.
    """
    f = STYLES[style]
    return pearson(standardise_within(f(sources), source_classes),
                   standardise_within(f(outputs), output_classes))
