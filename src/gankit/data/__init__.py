"""Datasets by name: each loader returns an in-memory ImageData (images or points) for a split."""

from __future__ import annotations

import os
from collections.abc import Callable

from gankit.data.digits import load_digits
from gankit.data.images import ImageData, epoch_batches
from gankit.data.mnist import load_mnist
from gankit.data.toy import DISTRIBUTIONS, toy_loader
from gankit.errors import ConfigError

LOADERS: dict[str, Callable[..., ImageData]] = {
    "mnist": load_mnist,
    "digits": load_digits,
    **{name: toy_loader(name) for name in DISTRIBUTIONS},
}


def load_dataset(name: str, split: str = "train",
                 data_dir: str | os.PathLike | None = None) -> ImageData:
    if name not in LOADERS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(LOADERS)}")
    return LOADERS[name](split, data_dir=data_dir or None)


__all__ = ["ImageData", "LOADERS", "epoch_batches", "load_dataset"]
