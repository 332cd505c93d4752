"""The IDX format of the MNIST files: big-endian header, then raw unsigned bytes."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import DataError

_UBYTE = 0x08


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzipped (detected by its magic bytes)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; check the file and its "
                        "permissions") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path} is a damaged gzip file ({exc}); delete it so that gankit "
                            "downloads it again, or replace it with the official file") from None
    return raw


def parse_idx(content: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX content into a uint8 array of the shape its header declares."""
    fix = "delete it so that gankit downloads it again, or replace it with the official file"
    if len(content) < 4:
        raise DataError(f"{source} is too short to be an IDX file; {fix}")
    zero, dtype, ndim = struct.unpack(">HBB", content[:4])
    if zero != 0 or dtype != _UBYTE or ndim == 0:
        raise DataError(f"{source} has a wrong IDX magic number {content[:4].hex()} "
                        f"(expected 000008xx); {fix}")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(f"{source} is truncated inside its IDX header; {fix}")
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise DataError(f"{source} holds {len(content)} bytes but its header declares "
                        f"{expected} (shape {shape}); the file is truncated or padded; {fix}")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
