"""Generator and discriminator architectures, built from a ModelConfig and the data's shape.

``model.arch`` picks the family: ``mlp`` (the paper's fully connected models, MNIST, TFD,
CIFAR-10), ``paper_conv`` (the paper's convolutional CIFAR-10 models), ``dcgan``.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ConditionConfig, ModelConfig
from gankit.errors import ConfigError
from gankit.nets.conditional import (
    build_conditional_discriminator,
    build_conditional_generator,
)
from gankit.nets.conditional_dcgan import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
)
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.maxout import Maxout
from gankit.nets.mlp import MaxoutDiscriminator, MLPGenerator
from gankit.nets.paper_conv import PaperConvDiscriminator, PaperConvGenerator
from gankit.nets.toy import ToyDiscriminator, ToyGenerator


def build_generator(cfg: ModelConfig, image_shape: tuple[int, ...],
                    pixel_marginals: torch.Tensor | None = None,
                    condition: ConditionConfig | None = None) -> nn.Module:
    classes = condition.classes if condition is not None else 0
    if classes and cfg.arch != "dcgan":
        return build_conditional_generator(cfg, condition, image_shape, pixel_marginals)
    if cfg.arch == "toy":
        return ToyGenerator(cfg.noise_dim, list(cfg.g_hidden), image_shape, cfg.prior)
    try:
        if cfg.arch == "dcgan" and classes:
            return ConditionalDCGANGenerator(cfg.noise_dim, classes, image_shape, cfg.g_width,
                                             cfg.prior)
        if cfg.arch == "dcgan":
            return DCGANGenerator(cfg.noise_dim, image_shape, cfg.g_width, cfg.prior)
        if cfg.arch == "paper_conv":
            return PaperConvGenerator(cfg.noise_dim, list(cfg.g_hidden), image_shape, cfg.prior,
                                      cfg.g_init_range, list(cfg.g_activations) or None)
        return MLPGenerator(cfg.noise_dim, list(cfg.g_hidden), image_shape, cfg.prior,
                            cfg.g_init_range, pixel_marginals, list(cfg.g_activations) or None,
                            cfg.g_output)
    except ValueError as exc:
        raise ConfigError(f"model.arch = {cfg.arch!r} cannot generate {image_shape} images: "
                          f"{exc}") from None


def build_discriminator(cfg: ModelConfig, image_shape: tuple[int, ...],
                        condition: ConditionConfig | None = None) -> nn.Module:
    classes = condition.classes if condition is not None else 0
    if classes and cfg.arch != "dcgan":
        return build_conditional_discriminator(cfg, condition, image_shape)
    if cfg.arch == "toy":
        return ToyDiscriminator(image_shape, list(cfg.d_units), cfg.d_activation)
    try:
        if cfg.arch == "dcgan" and classes:
            return ConditionalDCGANDiscriminator(image_shape, classes, cfg.d_width,
                                                 condition.d_input, condition.aux_weight > 0)
        if cfg.arch == "dcgan":
            return DCGANDiscriminator(image_shape, cfg.d_width)
        if cfg.arch == "paper_conv":
            return PaperConvDiscriminator(image_shape, cfg.d_init_range, cfg.d_input_keep,
                                          cfg.d_hidden_keep)
        return MaxoutDiscriminator(image_shape, list(cfg.d_units), cfg.d_pieces,
                                   cfg.d_init_range, cfg.d_input_keep, cfg.d_hidden_keep,
                                   cfg.d_max_col_norm)
    except ValueError as exc:
        raise ConfigError(f"model.arch = {cfg.arch!r} cannot judge {image_shape} images: "
                          f"{exc}") from None


def generator_output(cfg: ModelConfig) -> str:
    """G's output unit, which fixes the range the data layer puts the images in."""
    return {"dcgan": "tanh", "paper_conv": "linear"}.get(cfg.arch, cfg.g_output)


__all__ = ["DCGANDiscriminator", "DCGANGenerator", "Maxout", "MLPGenerator",
           "MaxoutDiscriminator", "PaperConvDiscriminator", "PaperConvGenerator",
           "ToyDiscriminator", "ToyGenerator",
           "build_discriminator", "build_generator", "generator_output"]
