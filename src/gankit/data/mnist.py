"""MNIST with the paper's splits: train = first 50,000, valid = next 10,000, test = official."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gankit.data.download import fetch
from gankit.data.idx import parse_idx, read_bytes, sha256
from gankit.data.images import ImageData
from gankit.data.paths import data_root
from gankit.errors import DataError

# Public mirrors, tried in turn; each serves the four gzipped files under the same names.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "http://yann.lecun.com/exdb/mnist",
]

# SHA-256 of the decompressed IDX content (independent of how a mirror compressed it).
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

SPLITS = {"train": ("train", 0, 50_000), "valid": ("train", 50_000, 60_000),
          "test": ("t10k", 0, 10_000), "train-full": ("train", 0, 60_000)}


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return data_root(data_dir) / "mnist"


def _verified_content(path: Path, name: str) -> bytes:
    content = read_bytes(path)
    if sha256(content) != FILES[name]:
        parse_idx(content, str(path))  # a structural fault gives the more precise message
        raise DataError(f"{path} fails its SHA-256 check (not the official MNIST {name}); "
                        "delete it so that gankit downloads it again, or replace it with the "
                        "official file")
    return content


def _locate(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.exists():
            return candidate
    return None


def ensure_files(data_dir: str | os.PathLike | None = None) -> Path:
    """Make sure the four files are present and intact, downloading any that are missing."""
    folder = mnist_dir(data_dir)
    for name in FILES:
        if _locate(folder, name) is not None:
            continue
        try:
            fetch(f"{name}.gz", MIRRORS, folder / f"{name}.gz",
                  verify=lambda p, n=name: _verified_content(p, n))
        except OSError as exc:
            wanted = ", ".join(f"{n}.gz" for n in FILES)
            raise DataError(
                f"MNIST file {name}.gz is not in {folder} and could not be downloaded "
                f"({str(exc).split(';')[0]}); put the four files {wanted} in {folder}, "
                "or point --data-dir or GANKIT_DATA_DIR at a folder holding mnist/") from None
    return folder


def _read(folder: Path, name: str) -> np.ndarray:
    path = _locate(folder, name)
    assert path is not None
    return parse_idx(_verified_content(path, name), str(path))


def load_mnist(split: str = "train", data_dir: str | os.PathLike | None = None) -> ImageData:
    """MNIST ``split`` as float pixels x/255 in [0, 1] (not binarised), shape (N, 1, 28, 28)."""
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; choose one of {', '.join(SPLITS)}")
    prefix, start, stop = SPLITS[split]
    folder = ensure_files(data_dir)
    images = _read(folder, f"{prefix}-images-idx3-ubyte")[start:stop]
    labels = _read(folder, f"{prefix}-labels-idx1-ubyte")[start:stop]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return ImageData(x, torch.from_numpy(labels.astype(np.int64)))
