"""Faces in place of the paper's Toronto Face Database (licensed, not downloadable).

The Olivetti faces (AT&T, 400 grey 64x64 images of 40 people) come through scikit-learn's
fetcher, downloaded once into ``<data dir>/olivetti``. Splits are by person, so no face in
valid or test belongs to someone seen in training: people 0-31 train (320 images), 32-35
valid (40), 36-39 test (40). Resizing to TFD's 48x48 is ``data.image_size = 48``.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from gankit.data.images import ImageData
from gankit.data.paths import data_root
from gankit.errors import DataError

SPLITS = {"train": range(0, 32), "valid": range(32, 36), "test": range(36, 40),
          "train-full": range(0, 40)}


def fetch_olivetti(data_home: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (400, 64, 64) float in [0, 1], person ids); a seam for tests to mock."""
    from sklearn.datasets import fetch_olivetti_faces

    bunch = fetch_olivetti_faces(data_home=data_home, shuffle=False, download_if_missing=True)
    return bunch.images, bunch.target


def load_faces(split: str = "train", data_dir: str | os.PathLike | None = None) -> ImageData:
    """Olivetti faces ``split`` as float (N, 1, 64, 64) in [0, 1], labels = person ids."""
    if split not in SPLITS:
        raise DataError(f"unknown faces split {split!r}; choose one of {', '.join(SPLITS)}")
    home = data_root(data_dir) / "olivetti"
    try:
        images, people = fetch_olivetti(str(home))
    except OSError as exc:  # URLError and friends are OSErrors
        raise DataError(f"the Olivetti faces are not in {home} and could not be downloaded "
                        f"({exc}); run once with network access, or point --data-dir or "
                        "GANKIT_DATA_DIR at a folder holding olivetti/") from None
    images, people = np.asarray(images, np.float32), np.asarray(people, np.int64)
    if images.ndim != 3 or len(images) != len(people) or images.min() < 0 or images.max() > 1:
        raise DataError(f"the Olivetti faces in {home} are damaged; delete that folder so that "
                        "they are downloaded again")
    keep = np.isin(people, list(SPLITS[split]))
    return ImageData(torch.from_numpy(images[keep]).unsqueeze(1),
                     torch.from_numpy(people[keep]))
