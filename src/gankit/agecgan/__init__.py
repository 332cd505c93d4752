"""Age-cGAN (Antipov et al. 2017) on any conditional gankit run, one function per step.

1. train the conditional GAN: ``gankit.train("cgan-mnist")`` (gankit.nets.conditional);
2. ``train_run_encoder(run)``: E: x -> z on generated pairs, saved in RUN/encoder;
3. ``invert_images(run, images)``: z* from E(x) by identity-preserving optimisation;
4. ``transfer_images(run, images, to=[...])``: G(z*, y) for each target class.

The model-level functions (``train_encoder``, ``optimise_latent``, ``transfer``) take networks
instead of paths, for use inside other code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from gankit.agecgan.encoder import (
    Encoder,
    EncoderReport,
    encoder_dir_of,
    load_encoder,
    train_encoder,
)
from gankit.agecgan.images import load_images
from gankit.agecgan.latent import FeatureNet, LatentFit, mnist_feature_net, optimise_latent
from gankit.agecgan.transfer import Transfer, invert, regenerate, transfer, transfer_rows
from gankit.errors import GankitError
from gankit.nets.conditional import is_conditional
from gankit.sampling import load_generator

PathLike = str | os.PathLike


def load_conditional_generator(run: PathLike) -> torch.nn.Module:
    g = load_generator(run)
    if not is_conditional(g):
        raise GankitError(f"{run} holds an unconditional generator; Age-cGAN needs a conditional "
                          "run (gankit train --preset cgan-mnist)")
    return g


def train_run_encoder(run: PathLike, *, out: PathLike | None = None, steps: int = 3000,
                      batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                      progress: bool = True) -> EncoderReport:
    """Step 2 for a run directory (or checkpoint): E saved in RUN/encoder unless ``out``."""
    g = load_conditional_generator(run)
    return train_encoder(g, out or encoder_dir_of(run), steps=steps, batch_size=batch_size,
                         lr=lr, seed=seed, progress=progress)


def _models(run: PathLike, encoder: PathLike | None) -> tuple[torch.nn.Module, Encoder]:
    g = load_conditional_generator(run)
    where = encoder or encoder_dir_of(run)
    if encoder is None and not os.path.isdir(where):
        raise GankitError(f"{run} has no encoder yet; train it with `gankit train-encoder {run}`")
    return g, load_encoder(where)


def invert_images(run: PathLike, images: Sequence[PathLike] | torch.Tensor,
                  source: Sequence[int] | None = None, *, encoder: PathLike | None = None,
                  space: str = "feature", feature_net: FeatureNet | None = None,
                  steps: int = 300, lr: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 3: the source classes y0 and the optimised codes z* of ``images``."""
    g, enc = _models(run, encoder)
    x = images if isinstance(images, torch.Tensor) else load_images(list(images), g.image_shape)
    y0, _, fit = invert(g, enc, x, None if source is None else list(source), space=space,
                        feature_net=feature_net, steps=steps, lr=lr)
    return y0, fit.z


def transfer_images(run: PathLike, images: Sequence[PathLike] | torch.Tensor, to: Sequence[int],
                    source: Sequence[int] | None = None, *, encoder: PathLike | None = None,
                    space: str = "feature", feature_net: FeatureNet | None = None,
                    steps: int = 300, lr: float = 0.03) -> Transfer:
    """Steps 2-4 on image files or a tensor: reconstruct each image, redraw it as each class."""
    g, enc = _models(run, encoder)
    x = images if isinstance(images, torch.Tensor) else load_images(list(images), g.image_shape)
    return transfer(g, enc, x, list(to), None if source is None else list(source), space=space,
                    feature_net=feature_net, steps=steps, lr=lr)


__all__ = ["Encoder", "EncoderReport", "LatentFit", "Transfer", "invert", "invert_images",
           "load_conditional_generator", "load_encoder", "load_images", "mnist_feature_net",
           "optimise_latent", "regenerate", "train_encoder", "train_run_encoder", "transfer",
           "transfer_images", "transfer_rows"]
