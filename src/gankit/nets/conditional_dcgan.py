"""Conditional DCGAN: the class enters G with z, and D by projection (Miyato & Koyama 2018).

G(z, y) is gankit.nets.dcgan's generator fed [z, one_hot(y)]. Its first layer maps that 1x1
input to the start x start map linearly, so the one-hot part is exactly a learned class
embedding added to G's first feature map: one weight slice per class.

D(x, y) is DCGAN's discriminator split at its last layer: h = the flattened start x start
feature map, logit = w.h + b (DCGAN's final convolution, which is linear in h) plus, by
``d_input``:

- ``projection``: embed(y).h (Miyato & Koyama), one learned vector per class;
- ``concat``: one_hot(y) broadcast to class planes beside the image's channels;
- ``none``: nothing (AC-GAN as published, D only predicts the class).

With ``aux`` D also has an AC-GAN head (class logits linear in h), the same interface
(``heads``) as the conditional MLP discriminator, so the schedules and the Trainer use both.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.nets.conditional import one_hot
from gankit.nets.dcgan import INIT_STD, DCGANDiscriminator, DCGANGenerator, spatial_plan
from gankit.nets.noise import sample_noise

Tensor = torch.Tensor


class ConditionalDCGANGenerator(nn.Module):
    """(z, y) -> DCGAN generator applied to [z, one_hot(y)]; tanh images in [-1, 1]."""

    output = "tanh"

    def __init__(self, noise_dim: int, classes: int, image_shape: tuple[int, int, int],
                 width: int = 64, prior: str = "gaussian") -> None:
        super().__init__()
        self.noise_dim, self.classes, self.prior = noise_dim, classes, prior
        self.image_shape = tuple(image_shape)
        self.body = DCGANGenerator(noise_dim + classes, image_shape, width, prior)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([z, one_hot(y, self.classes, z.dtype)], 1))

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        w = self.body.net[0].weight
        return sample_noise(n, self.noise_dim, self.prior, w.device, generator).to(w.dtype)


class ConditionalDCGANDiscriminator(nn.Module):
    """(x, y) -> adversarial logit (B,), and class logits (B, classes) with an AC head."""

    def __init__(self, image_shape: tuple[int, int, int], classes: int, width: int = 64,
                 d_input: str = "projection", aux: bool = False) -> None:
        super().__init__()
        if d_input not in ("concat", "projection", "none"):
            raise ValueError(f"unknown d_input {d_input!r}")
        self.image_shape, self.classes, self.d_input = tuple(image_shape), classes, d_input
        c, h, w = image_shape
        body = DCGANDiscriminator((c + (classes if d_input == "concat" else 0), h, w), width)
        self.features = body.net[:-1]
        self.out = body.net[-1]  # conv over the whole start x start map: linear in h
        start, _ = spatial_plan(h)
        dim = self.out.in_channels * start * start
        self.embed = nn.Embedding(classes, dim) if d_input == "projection" else None
        self.aux = nn.Linear(dim, classes) if aux else None
        for m in (self.embed, self.aux):
            if m is not None:
                nn.init.normal_(m.weight, 0.0, INIT_STD)
        if self.aux is not None:
            nn.init.zeros_(self.aux.bias)

    def heads(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """The adversarial logit and the class logits (None without an AC head), one pass."""
        if self.d_input == "concat":
            planes = one_hot(y, self.classes, x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], 1)
        fmap = self.features(x)
        logit = self.out(fmap).view(x.shape[0])
        h = fmap.flatten(1)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit, (self.aux(h) if self.aux is not None else None)

    def forward(self, x: Tensor, y: Tensor, both: bool = False
                ) -> Tensor | tuple[Tensor, Tensor | None]:
        """The adversarial logit; with ``both``, heads() (a DDP wrapper runs only forward)."""
        return self.heads(x, y) if both else self.heads(x, y)[0]

