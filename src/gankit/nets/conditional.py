"""Conditional versions of the paper's MLP models (Mirza & Osindero 2014; Odena et al. 2017).

G(z, y) is the paper's generator fed the concatenation [z, one_hot(y)]. D(x, y) is the paper's
maxout discriminator that sees y in one of three ways (``condition.d_input``):

- ``concat``: [dropout(x), one_hot(y)] enters the first maxout layer (Mirza & Osindero);
- ``projection``: logit = w.h + b + embed(y).h on the last hidden layer h (Miyato & Koyama 2018);
- ``none``: D does not see y (AC-GAN as published; D only predicts it).

With ``aux_weight > 0`` D also has an AC-GAN head: class logits from h, trained with a
cross-entropy on those logits (gankit.core.losses.auxiliary_class_loss).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gankit.config import ConditionConfig, ModelConfig
from gankit.nets.dropout import Dropout
from gankit.nets.maxout import Maxout
from gankit.nets.mlp import MLPGenerator
from gankit.nets.noise import sample_noise

Tensor = torch.Tensor


def one_hot(y: Tensor, classes: int, dtype: torch.dtype) -> Tensor:
    if y.dtype not in (torch.int64, torch.int32) or y.ndim != 1:
        raise ValueError(f"class labels must be a 1-d integer tensor, got {y.dtype} "
                         f"{tuple(y.shape)}")
    return F.one_hot(y.long(), classes).to(dtype)


class ConditionalMLPGenerator(nn.Module):
    """(z, y) -> the paper's ReLU/sigmoid MLP applied to [z, one_hot(y)]."""

    def __init__(self, noise_dim: int, classes: int, hidden: list[int],
                 image_shape: tuple[int, int, int], prior: str = "uniform",
                 init_range: float = 0.05, pixel_marginals: Tensor | None = None) -> None:
        super().__init__()
        self.noise_dim, self.classes, self.prior = noise_dim, classes, prior
        self.image_shape = tuple(image_shape)
        self.body = MLPGenerator(noise_dim + classes, hidden, image_shape, prior, init_range,
                                 pixel_marginals)
        self.output = self.body.output

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([z, one_hot(y, self.classes, z.dtype)], 1))

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        w = self.body.out.weight
        return sample_noise(n, self.noise_dim, self.prior, w.device, generator).to(w.dtype)


class ConditionalMaxoutDiscriminator(nn.Module):
    """(x, y) -> adversarial logit (B,), and class logits (B, classes) when it has an AC head."""

    def __init__(self, image_shape: tuple[int, int, int], classes: int, units: list[int],
                 pieces: int = 5, init_range: float = 0.005, input_keep: float = 0.8,
                 hidden_keep: float = 0.5, d_input: str = "concat", aux: bool = False) -> None:
        super().__init__()
        if d_input not in ("concat", "projection", "none"):
            raise ValueError(f"unknown d_input {d_input!r}")
        self.image_shape, self.classes, self.d_input = tuple(image_shape), classes, d_input
        self.input_dropout = Dropout(input_keep)
        sizes = [math.prod(image_shape) + (classes if d_input == "concat" else 0), *units]
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i > 0:
                layers.append(Dropout(hidden_keep))
            layers.append(Maxout(fan_in, fan_out, pieces))
        layers.append(Dropout(hidden_keep))
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(sizes[-1], 1)
        self.embed = nn.Embedding(classes, sizes[-1]) if d_input == "projection" else None
        self.aux = nn.Linear(sizes[-1], classes) if aux else None
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)
        if self.embed is not None:
            nn.init.uniform_(self.embed.weight, -init_range, init_range)

    def heads(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """The adversarial logit and the class logits (None without an AC head), one pass."""
        h = self.input_dropout(x.reshape(x.shape[0], -1))
        if self.d_input == "concat":
            h = torch.cat([h, one_hot(y, self.classes, h.dtype)], 1)
        h = self.hidden(h)
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit, (self.aux(h) if self.aux is not None else None)

    def forward(self, x: Tensor, y: Tensor, both: bool = False
                ) -> Tensor | tuple[Tensor, Tensor | None]:
        """The adversarial logit; with ``both``, heads() (how a DDP wrapper, which runs only
        forward, reaches the class head)."""
        return self.heads(x, y) if both else self.heads(x, y)[0]


def build_conditional_generator(cfg: ModelConfig, cond: ConditionConfig,
                                image_shape: tuple[int, int, int],
                                pixel_marginals: Tensor | None = None) -> nn.Module:
    return ConditionalMLPGenerator(cfg.noise_dim, cond.classes, list(cfg.g_hidden), image_shape,
                                   cfg.prior, cfg.g_init_range, pixel_marginals)


def build_conditional_discriminator(cfg: ModelConfig, cond: ConditionConfig,
                                    image_shape: tuple[int, int, int]) -> nn.Module:
    return ConditionalMaxoutDiscriminator(image_shape, cond.classes, list(cfg.d_units),
                                          cfg.d_pieces, cfg.d_init_range, cfg.d_input_keep,
                                          cfg.d_hidden_keep, cond.d_input, cond.aux_weight > 0)


def is_conditional(net: nn.Module) -> bool:
    """Whether ``net`` takes a class label beside its input."""
    return getattr(net, "classes", 0) > 0
