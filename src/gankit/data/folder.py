"""A user's own images: any folder tree of PNG/JPEG/WebP files, decoded once into a cache.

Images are resized (shorter side) and centre-cropped to ``size`` x ``size``, in RGB or grey,
and written into a uint8 memmap under the user cache directory, keyed by the folder, the size,
the colour and every file's name, size and modification time. Later runs (and resumes) map the
cache and decode nothing; changing any file makes a new cache. Unreadable or corrupt files are
skipped and counted, never a crash mid-epoch. When every image lies in a first-level subfolder,
the subfolders (sorted) are the class labels.

Colour "auto" keeps a grey folder grey: the images are decoded as RGB, and when every pixel of
every image has three equal channels (single-channel files: grey, 1-bit, grey with alpha or a
grey palette; or RGB files saved from grey pictures) the folder is grey and loads with one
channel, exactly what "grey" decodes. A single coloured pixel makes it RGB.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import platformdirs
import torch
from PIL import Image, ImageOps

from gankit.data.images import ImageData
from gankit.errors import DataError
from gankit.io.atomic import atomic_path, write_text_atomic

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}
CACHE_VERSION = 1


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursively, hidden folders skipped), in sorted order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames)
                  if Path(f).suffix.lower() in EXTENSIONS and not f.startswith(".")]
    return found


def class_labels(root: Path, files: list[Path]) -> np.ndarray | None:
    """Labels from first-level subfolders when every image has one, else None."""
    parts = [f.relative_to(root).parts for f in files]
    if not parts or any(len(p) < 2 for p in parts):
        return None
    classes = sorted({p[0] for p in parts})
    return np.array([classes.index(p[0]) for p in parts], dtype=np.int64)


def decode(path: Path, size: int, mode: str) -> np.ndarray:
    """One image as uint8 (C, size, size): shorter side to ``size``, centre crop."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img).convert(mode)
        img = ImageOps.fit(img, (size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def cache_key(root: Path, files: list[Path], size: int, mode: str) -> str:
    h = hashlib.sha256(f"{CACHE_VERSION}|{root.resolve()}|{size}|{mode}".encode())
    for f in files:
        st = f.stat()
        h.update(f"|{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("gankit")) / "image-folders"


def _decode_all(files: list[Path], size: int, mode: str, sink) -> tuple[list[int], list[str]]:
    """Decode every file once, writing each readable image's bytes to ``sink``.

    Returns the indices (in ``files``) of the images written and why the others were skipped.
    """
    kept, skipped = [], []
    for i, f in enumerate(files):
        try:
            arr = decode(f, size, mode)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            skipped.append(f"{f.name}: {str(exc).splitlines()[0] if str(exc) else type(exc)}")
            continue
        sink(arr.tobytes())
        kept.append(i)
    return kept, skipped


def _write_cache(files: list[Path], size: int, mode: str, dest: Path
                 ) -> tuple[list[int], list[str]]:
    """Decode into a raw uint8 file beside ``dest``, renamed into place once complete."""
    with atomic_path(dest) as tmp, tmp.open("wb") as out:
        kept, skipped = _decode_all(files, size, mode, out.write)
    return kept, skipped


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and {"kept", "skipped"} <= meta.keys() else None


def all_grey(array: np.ndarray, chunk: int = 1024) -> bool:
    """Whether every image of a uint8 (N, 3, H, W) array has three equal channels (read in
    chunks, so that a memory-mapped cache is never copied whole)."""
    for i in range(0, len(array), chunk):
        part = array[i:i + chunk]
        if not (np.array_equal(part[:, 0], part[:, 1]) and np.array_equal(part[:, 1], part[:, 2])):
            return False
    return True


def load_folder(path: str | os.PathLike, size: int, color: str = "rgb",
                use_cache: bool = True) -> ImageData:
    """All images under ``path`` as float (N, C, size, size) in [0, 1], decoded at most once.

    ``color`` is "rgb", "grey" or "auto" (grey when every image is grey, else RGB; see above).
    """
    root = Path(path).expanduser()
    if not str(path) or not root.is_dir():
        raise DataError(f"image folder {str(path)!r} does not exist; set data.path to a "
                        "folder of PNG/JPEG/WebP images")
    if size < 1:
        raise DataError("a folder of images needs data.image_size, e.g. 64")
    files = list_images(root)
    if not files:
        raise DataError(f"no PNG/JPEG/WebP images under {root}")
    mode = "L" if color == "grey" else "RGB"
    shape = (1 if mode == "L" else 3, size, size)
    cache = cache_root() / f"{cache_key(root, files, size, mode)}.u8"
    meta_path = cache.with_suffix(".json")
    meta = _read_meta(meta_path) if use_cache else None
    if meta is not None and cache.exists() \
            and cache.stat().st_size == len(meta["kept"]) * int(np.prod(shape)):
        kept, skipped = meta["kept"], meta["skipped"]
    else:
        try:
            if not use_cache:
                raise OSError("cache disabled")
            cache.parent.mkdir(parents=True, exist_ok=True)
            kept, skipped = _write_cache(files, size, mode, cache)
            meta = {"root": str(root.resolve()), "shape": [len(kept), *shape], "kept": kept,
                    "skipped": skipped}
            write_text_atomic(meta_path, json.dumps(meta))
        except OSError:  # no writable cache: decode into memory instead
            chunks: list[bytes] = []
            kept, skipped = _decode_all(files, size, mode, chunks.append)
            cache = None
    if skipped:
        print(f"gankit: warning: skipped {len(skipped)} of {len(files)} images under {root} "
              f"that could not be read (first: {skipped[0]})", file=sys.stderr)
    if not kept:
        raise DataError(f"none of the {len(files)} images under {root} could be read "
                        f"(first: {skipped[0]})")
    if cache is not None:
        array = np.memmap(cache, np.uint8, "r", shape=(len(kept), *shape))
    else:
        array = np.frombuffer(b"".join(chunks), np.uint8).reshape(len(kept), *shape)
    if color == "auto" and all_grey(array):
        array = array[:, :1]
    labels = class_labels(root, files)
    x = torch.from_numpy(np.asarray(array, dtype=np.float32) / 255.0)
    y = torch.from_numpy(labels[kept]) if labels is not None else None
    return ImageData(x, y)


def common_size(path: str | os.PathLike) -> int | None:
    """The side of the folder's images when every readable one is square and of one size (read
    from the file headers only), else None: such a folder is compared at its own size."""
    sizes = set()
    for f in list_images(Path(path).expanduser()):
        try:
            with Image.open(f) as img:
                sizes.add(img.size)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue
        if len(sizes) > 1:
            return None
    if len(sizes) != 1:
        return None
    (w, h), = sizes
    return w if w == h else None


def class_names(path: str | os.PathLike) -> list[str]:
    """The class names behind ``load_folder``'s labels: the first-level subfolders, sorted."""
    root = Path(path).expanduser()
    return sorted({f.relative_to(root).parts[0] for f in list_images(root)})
