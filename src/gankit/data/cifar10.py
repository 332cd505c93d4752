"""CIFAR-10 from its official python-pickle archive, read without ever trusting pickle.

The archive (cifar-10-python.tar.gz, MD5 below) holds six pickled batches of 10,000 32x32 RGB
images. They are read straight from the tar.gz (or from an extracted cifar-10-batches-py/)
with a restricted unpickler that admits only what a batch needs (a dict of bytes, lists and
one uint8 numpy array) and refuses any other global, so a tampered archive cannot run code.
Splits follow the paper's authors (pylearn2): train = batches 1-4 (40,000), valid = batch 5
(10,000), test = the test batch (10,000); ``train-full`` = batches 1-5.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.data.download import fetch
from gankit.data.images import ImageData
from gankit.data.paths import data_root
from gankit.errors import DataError

MIRRORS = ["https://www.cs.toronto.edu/~kriz"]
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 5)], "valid": ["data_batch_5"],
          "test": ["test_batch"], "train-full": [f"data_batch_{i}" for i in range(1, 6)]}
_FIX = "delete it so that gankit downloads it again, or replace it with the official file"


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 pickles of bytes use it; only Latin-1 is admitted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with {encoding!r}")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``_ALLOWED``; anything else is an UnpicklingError."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def unpickle_batch(content: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one pickled batch."""
    try:
        batch = RestrictedUnpickler(io.BytesIO(content), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"{source} is not a CIFAR-10 batch ({exc}); {_FIX}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{source} is not a CIFAR-10 batch (no dict inside); {_FIX}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072 or not isinstance(labels, list) \
            or len(labels) != data.shape[0]:
        raise DataError(f"{source} lacks a uint8 (N, 3072) 'data' array with N 'labels'; {_FIX}")
    y = np.asarray(labels, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{source} has labels outside 0..9; {_FIX}")
    return data.reshape(-1, 3, 32, 32), y


def _md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()


def _verify_archive(path: Path) -> None:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != ARCHIVE_MD5:
        raise DataError(f"{path} fails its MD5 check (not the official {ARCHIVE}); {_FIX}")


def _read_archive(path: Path, names: list[str]) -> dict[str, bytes]:
    _verify_archive(path)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in names:
                    found[base] = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path} is a damaged archive ({exc}); {_FIX}") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; {_FIX}")
    return found


def _read_folder(folder: Path, names: list[str]) -> dict[str, bytes]:
    found = {}
    for name in names:
        try:
            content = (folder / name).read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {folder / name}: {exc.strerror}; put the extracted "
                            f"{FOLDER}/ or {ARCHIVE} in {folder.parent}") from None
        if _md5(content) != BATCH_MD5[name]:
            raise DataError(f"{folder / name} fails its MD5 check (not the official batch); "
                            f"{_FIX}")
        found[name] = content
    return found


def cifar10_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return data_root(data_dir) / "cifar10"


def _batches(data_dir: str | os.PathLike | None, names: list[str]) -> dict[str, bytes]:
    """Batch contents from an extracted folder, else the archive, downloading it if missing."""
    root = cifar10_dir(data_dir)
    if (root / FOLDER).is_dir():
        return _read_folder(root / FOLDER, names)
    archive = root / ARCHIVE
    if not archive.exists():
        try:
            fetch(ARCHIVE, MIRRORS, archive, verify=_verify_archive, timeout=60)
        except OSError as exc:
            raise DataError(f"{ARCHIVE} is not in {root} and could not be downloaded "
                            f"({str(exc).split(';')[0]}); put the official {ARCHIVE} (or its "
                            f"extracted {FOLDER}/) in {root}, or point --data-dir or "
                            "GANKIT_DATA_DIR at a folder holding cifar10/") from None
    return _read_archive(archive, names)


def load_cifar10(split: str = "train", data_dir: str | os.PathLike | None = None) -> ImageData:
    """CIFAR-10 ``split`` as float pixels x/255 in [0, 1], shape (N, 3, 32, 32)."""
    if split not in SPLITS:
        raise DataError(f"unknown CIFAR-10 split {split!r}; choose one of {', '.join(SPLITS)}")
    names = SPLITS[split]
    contents = _batches(data_dir, names)
    parts = [unpickle_batch(contents[n], n) for n in names]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return ImageData(torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y))
