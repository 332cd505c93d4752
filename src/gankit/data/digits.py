"""scikit-learn's bundled 8x8 digits: 1,797 images, no download; the offline quickstart's data."""

from __future__ import annotations

import numpy as np
import torch

from gankit.data.images import ImageData
from gankit.errors import DataError

# A fixed split so that every machine trains and evaluates on the same images.
_SPLIT_SIZES = {"train": 1397, "valid": 200, "test": 200}
_SPLIT_SEED = 0


def load_digits(split: str = "train", data_dir: object = None) -> ImageData:
    """Digits ``split`` with pixels /16 in [0, 1], shape (N, 1, 8, 8)."""
    from sklearn.datasets import load_digits as sk_load_digits

    if split not in _SPLIT_SIZES:
        raise DataError(f"unknown digits split {split!r}; choose one of {', '.join(_SPLIT_SIZES)}")
    bunch = sk_load_digits()
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(bunch.images))
    start = 0
    for name, size in _SPLIT_SIZES.items():
        if name == split:
            idx = order[start:start + size]
            break
        start += size
    x = torch.from_numpy((bunch.images[idx] / 16.0).astype(np.float32)).unsqueeze(1)
    return ImageData(x, torch.from_numpy(bunch.target[idx].astype(np.int64)))
