"""Reading user images for inversion: PNG/JPEG files or NumPy arrays, to (N, C, H, W) in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.errors import DataError


def _from_array(a: np.ndarray, path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    c, h, w = shape
    a = np.asarray(a, dtype=np.float32)
    if a.shape == (h, w):
        a = a[None]
    if a.ndim == 3 and a.shape[1:] == (h, w):
        a = a[:, None]
    if a.ndim != 4 or a.shape[1:] != (c, h, w):
        raise DataError(f"{path} holds an array of shape {a.shape}; need (N, {c}, {h}, {w}), "
                        f"(N, {h}, {w}) or ({h}, {w})")
    if a.max() > 1.0:  # 0..255 bytes
        a = a / 255.0
    if a.min() < 0 or a.max() > 1:
        raise DataError(f"{path} holds values outside [0, 1] (or 0..255)")
    return torch.from_numpy(np.ascontiguousarray(a))


def _from_picture(path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    c, h, w = shape
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.LANCZOS)
            a = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path} is not a readable image ({exc.__class__.__name__})") from None
    a = a[None] if c == 1 else a.transpose(2, 0, 1)
    # MNIST digits are light strokes on black: a picture with a light background is inverted.
    if a.mean() > 0.5:
        a = 1.0 - a
    return torch.from_numpy(np.ascontiguousarray(a))[None]


def load_images(paths: list[str | os.PathLike], shape: tuple[int, int, int]) -> torch.Tensor:
    """Images of ``shape`` (C, H, W) from picture files and .npy arrays, in the order given."""
    if not paths:
        raise DataError("no images given")
    parts = []
    for p in map(Path, paths):
        if not p.is_file():
            raise DataError(f"image {p} does not exist")
        if p.suffix == ".npy":
            try:
                a = np.load(p, allow_pickle=False)
            except ValueError as exc:
                raise DataError(f"{p} is not a NumPy array file ({exc})") from None
            parts.append(_from_array(a, p, shape))
        else:
            parts.append(_from_picture(p, shape))
    return torch.cat(parts)
