"""Datasets by name: each loader returns an in-memory ImageData for a split: images
with pixels in [0, 1], or points of a low-dimensional distribution (gankit.data.toy).

``load_for_model`` is what training uses: the named set, converted to the requested colour
and size, then put in the value range of the generator's output (gankit.data.ranges).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data.cifar10 import load_cifar10
from gankit.data.digits import load_digits
from gankit.data.faces import load_faces
from gankit.data.folder import load_folder
from gankit.data.images import ImageData, epoch_batches
from gankit.data.mnist import load_mnist
from gankit.data.ranges import to_model_range, to_unit
from gankit.data.stacked_mnist import load_stacked_mnist
from gankit.data.toy import DISTRIBUTIONS, toy_loader
from gankit.errors import ConfigError, DataError

LOADERS: dict[str, Callable[..., ImageData]] = {
    "mnist": load_mnist,
    "digits": load_digits,
    **{name: toy_loader(name) for name in DISTRIBUTIONS},
    "cifar10": load_cifar10,
    "faces": load_faces,
    "stacked_mnist": load_stacked_mnist,
    "folder": load_folder,  # reads data.path, see load_for_model
}


def load_dataset(name: str, split: str = "train",
                 data_dir: str | os.PathLike | None = None) -> ImageData:
    if name not in LOADERS or name == "folder":
        known = ", ".join(n for n in LOADERS if n != "folder")
        hint = "; a folder of images is data.name = 'folder' with data.path" \
            if name == "folder" else ""
        raise ConfigError(f"unknown dataset {name!r}; choose one of {known}{hint}")
    return LOADERS[name](split, data_dir=data_dir or None)


def convert(data: ImageData, image_size: int = 0, color: str = "auto") -> ImageData:
    """Change channels (grey <-> RGB) and the square size (antialiased bilinear) if asked."""
    x = data.images
    if color == "grey" and x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif color == "rgb" and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    if image_size and tuple(x.shape[2:]) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear",
                          antialias=True, align_corners=False).clamp_(0, 1)
    return ImageData(x, data.labels)


def load_for_model(cfg: DataConfig, output: str, split: str = "train") -> ImageData:
    """The data a G with ``output`` units trains on: converted, resized, in its value range."""
    if cfg.name == "folder":
        if split != "train":
            raise DataError("an image folder has only a train split")
        data = load_folder(cfg.path, cfg.image_size, cfg.color)
    else:
        data = load_dataset(cfg.name, split, cfg.data_dir)
    if data.images.ndim == 2:  # points of a toy distribution: no pixels to convert
        return data
    data = convert(data, cfg.image_size, cfg.color)
    return ImageData(to_model_range(data.images, output, cfg.gcn, cfg.gcn_scale), data.labels)


def resolved_color(cfg: DataConfig, data: ImageData) -> str:
    """data.color as ``data`` was loaded: a folder's "auto" becomes "grey" or "rgb", so that the
    run's config.toml says what it trained on and its resumes load the same channels."""
    if cfg.name != "folder" or cfg.color != "auto":
        return cfg.color
    return "grey" if data.images.shape[1] == 1 else "rgb"


def color_note(cfg: DataConfig, color: str) -> str:
    """The line that tells the user what data.color = "auto" chose for their folder."""
    if color == "grey":
        return (f'data.color = "auto": every image under {cfg.path} is grey, so G and D work '
                'on 1 channel; config.toml records data.color = "grey" (set data.color = "rgb" '
                "for 3 channels)")
    return (f'data.color = "auto": the images under {cfg.path} are in colour, so G and D work on '
            '3 channels; config.toml records data.color = "rgb"')


__all__ = ["ImageData", "LOADERS", "color_note", "convert", "epoch_batches", "load_dataset",
           "load_for_model", "resolved_color", "to_model_range", "to_unit"]
