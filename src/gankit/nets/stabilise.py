"""Changes to a built discriminator against mode collapse and for a Lipschitz D.

- ``Packed`` (PacGAN, Lin et al. 2018): D judges m samples at once, concatenated along the
  channel (or feature) dimension, so it can see a lack of variety inside a tuple. Consecutive
  examples of a minibatch form a tuple: real tuples hold reals only, fake tuples fakes only.
- ``MinibatchStd`` (ProGAN, Karras et al. 2018): before D's last layer, one more feature, the
  standard deviation of each feature over a group of examples, averaged over the features.
  Groups are consecutive examples, so a data-parallel run whose local batch the group divides
  computes the 1-process numbers.
- ``spectral_norm_`` (Miyato et al. 2018): every linear and conv weight divided by its top
  singular value, estimated by one power iteration per forward pass.

Each works on the discriminators of ``gankit.nets`` whose layers are ``self.net``, a Sequential
ending in the layer that outputs the logit (MLP, toy, paper_conv, DCGAN); minibatch std and
spectral norm also on the conditional ones, whose adversarial head is ``self.out``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.config import ConditionConfig, ModelConfig
from gankit.nets import build_discriminator
from gankit.nets.conditional import is_conditional


class Packed(nn.Module):
    """D over m-tuples: (B, C, ...) -> (B/m, m*C, ...) -> ``inner`` -> B/m logits."""

    def __init__(self, inner: nn.Module, pack: int) -> None:
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"a batch of {n} does not split into tuples of {self.pack} "
                             "(game.pack); use a batch size divisible by it")
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))


class MinibatchStd(nn.Module):
    """Appends std over groups of ``group`` consecutive examples, averaged over all features,
    as one more channel (conv) or feature (flat): (B, C, ...) -> (B, C + 1, ...)."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, g = x.shape[0], self.group
        if n % g:
            raise ValueError(f"a batch of {n} does not split into groups of {g} "
                             "(model.d_minibatch_std)")
        y = x.reshape(n // g, g, *x.shape[1:])
        std = (y.var(dim=1, unbiased=False) + 1e-8).sqrt()  # (n/g, C, ...)
        feature = std.reshape(n // g, -1).mean(1)  # (n/g,)
        shape = (n, 1, *x.shape[2:])
        feature = feature.repeat_interleave(g).reshape(-1, *([1] * (x.ndim - 1))).expand(shape)
        return torch.cat([x, feature], dim=1)


def add_minibatch_std_(d: nn.Module, group: int) -> nn.Module:
    """Put a ``MinibatchStd`` before D's last layer, which gains one input (its weight for it
    starts at 0, so D starts as the same function and its other weights keep their draws).

    A conditional D's last layer is ``d.out``, its adversarial head: the feature joins that
    head only, so the projection term and the AC-GAN head read the same features as before.
    """
    conditional = is_conditional(d)
    last = d.out if conditional else d.net[-1]
    if isinstance(last, nn.Linear):
        wider: nn.Module = nn.Linear(last.in_features + 1, last.out_features)
    elif isinstance(last, nn.Conv2d) and last.groups == 1:
        wider = nn.Conv2d(last.in_channels + 1, last.out_channels, last.kernel_size,
                          last.stride, last.padding, bias=last.bias is not None)
    else:
        raise ValueError(f"no minibatch std before a last layer of type {type(last).__name__}")
    with torch.no_grad():
        wider.weight.zero_()
        wider.weight[:, :-1].copy_(last.weight)
        if last.bias is not None:
            wider.bias.copy_(last.bias)
    with_std = nn.Sequential(MinibatchStd(group), wider)
    if conditional:
        d.out = with_std
    else:
        d.net[-1] = with_std
    return d


def spectral_norm_(d: nn.Module) -> nn.Module:
    """Spectral normalisation on every Linear and Conv2d of ``d`` (their u, v vectors are
    buffers, so checkpoints hold them and a resumed run continues the same iteration)."""
    for m in list(d.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            spectral_norm(m)
    return d


def build_stabilised_discriminator(cfg: ModelConfig, image_shape: tuple[int, ...],
                                   condition: ConditionConfig | None, pack: int = 1
                                   ) -> nn.Module:
    """``gankit.nets.build_discriminator``'s D with game.pack, model.d_minibatch_std and
    model.d_spectral_norm applied; exactly that D when all are off."""
    shape = (image_shape[0] * pack, *image_shape[1:])
    d = build_discriminator(cfg, shape, condition)
    if cfg.d_minibatch_std:
        add_minibatch_std_(d, cfg.d_minibatch_std)
    if cfg.d_spectral_norm:
        spectral_norm_(d)
    return Packed(d, pack) if pack > 1 else d
