"""Generator and discriminator architectures, built from a ModelConfig and the data's shape."""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ConditionConfig, ModelConfig
from gankit.nets.conditional import (
    build_conditional_discriminator,
    build_conditional_generator,
)
from gankit.nets.maxout import Maxout
from gankit.nets.mlp import MaxoutDiscriminator, MLPGenerator


def build_generator(cfg: ModelConfig, image_shape: tuple[int, int, int],
                    pixel_marginals: torch.Tensor | None = None,
                    condition: ConditionConfig | None = None) -> nn.Module:
    if condition is not None and condition.classes:
        return build_conditional_generator(cfg, condition, image_shape, pixel_marginals)
    return MLPGenerator(cfg.noise_dim, list(cfg.g_hidden), image_shape, cfg.prior,
                        cfg.g_init_range, pixel_marginals)


def build_discriminator(cfg: ModelConfig, image_shape: tuple[int, int, int],
                        condition: ConditionConfig | None = None) -> nn.Module:
    if condition is not None and condition.classes:
        return build_conditional_discriminator(cfg, condition, image_shape)
    return MaxoutDiscriminator(image_shape, list(cfg.d_units), cfg.d_pieces, cfg.d_init_range,
                               cfg.d_input_keep, cfg.d_hidden_keep)


__all__ = ["Maxout", "MLPGenerator", "MaxoutDiscriminator", "build_discriminator",
           "build_generator"]
