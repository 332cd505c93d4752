"""Differentiable augmentation of everything D sees (``data.augment``; Zhao et al. 2020).

With few images D memorises the training set and G's gradient stops meaning anything. The
remedy of DiffAugment: transform every image D judges, real and fake alike, with the same
random family of transforms, inside the graph, so that G's gradient flows through them and G
is not taught to draw the transforms. The pieces, applied in this order, each per image:

- ``color``: brightness + U[-0.5, 0.5), saturation (deviation from the mean over channels)
  x U[0, 2), contrast (deviation from the image's mean) x U[0.5, 1.5);
- ``translation``: a shift of up to 1/8 of the height and width, whole pixels, zeros entering;
- ``cutout``: a zeroed square of half the height and width at a random place.

Zero and the brightness shift are in the data's own units ([0, 1] or [-1, 1]). The draws come
from ``gankit.rng``'s stream, so a run resumes bit for bit and N processes draw what one does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from gankit import rng
from gankit.config import AUGMENT_PIECES

Tensor = torch.Tensor
SHIFT_RATIO = 0.125
CUTOUT_RATIO = 0.5


def adjust_color(x: Tensor, brightness: Tensor, saturation: Tensor, contrast: Tensor) -> Tensor:
    """Per image (each factor shaped (N, 1, 1, 1)): add brightness, scale the deviation from the
    channel mean by saturation, then the deviation from the image mean by contrast."""
    x = x + brightness
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * saturation + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean


def translate(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """out[i, :, r, c] = x[i, :, r + dy[i], c + dx[i]], zero where that falls outside."""
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy.view(n, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx.view(n, 1, 1)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).reshape(n, 1, h * w)
    out = x.reshape(n, c, h * w).gather(2, index.expand(n, c, h * w)).reshape(n, c, h, w)
    return out * inside.unsqueeze(1).to(x.dtype)


def cut_out(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """Zero rows [top, top + size[0]) and columns [left, left + size[1]) of each image (the
    square may reach past the border)."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) - top.view(n, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - left.view(n, 1, 1)
    hole = (rows >= 0) & (rows < size[0]) & (cols >= 0) & (cols < size[1])
    return x * (~hole).unsqueeze(1).to(x.dtype)


def _uniform_int(lo: int, hi: int, n: int, device: torch.device) -> Tensor:
    """Integers uniform in [lo, hi], one per image, from the shared stream."""
    return (rng.rand((n,), device) * (hi - lo + 1)).long().clamp_max(hi - lo) + lo


def _color(x: Tensor) -> Tensor:
    shape = (x.shape[0], 1, 1, 1)
    brightness, saturation, contrast = (rng.rand(shape, x.device).to(x.dtype) for _ in range(3))
    return adjust_color(x, brightness - 0.5, saturation * 2, contrast + 0.5)


def _translation(x: Tensor) -> Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * SHIFT_RATIO + 0.5), int(w * SHIFT_RATIO + 0.5)
    return translate(x, _uniform_int(-sy, sy, n, x.device), _uniform_int(-sx, sx, n, x.device))


def _cutout(x: Tensor) -> Tensor:
    n, _, h, w = x.shape
    size = (int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5))
    top = _uniform_int(0, h - 1, n, x.device) - size[0] // 2
    left = _uniform_int(0, w - 1, n, x.device) - size[1] // 2
    return cut_out(x, top, left, size)


_TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "color": _color, "translation": _translation, "cutout": _cutout}


def augmentation(pieces: Sequence[str]) -> Callable[[Tensor], Tensor] | None:
    """The transform of ``data.augment`` (its pieces in the fixed order above); None when empty,
    so that a run without it draws nothing and computes what it always did."""
    chosen = [_TRANSFORMS[p] for p in AUGMENT_PIECES if p in pieces]
    if not chosen:
        return None

    def augment(x: Tensor) -> Tensor:
        for transform in chosen:
            x = transform(x)
        return x

    return augment
