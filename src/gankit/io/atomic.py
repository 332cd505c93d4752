"""Atomic file writes: a reader (or a resume after a crash) sees the old file or the new one,
never half of one.

Every writer writes a hidden temporary beside the target, ``.NAME.tmp-PID``, fsyncs it and
renames it over the target (``os.replace``, atomic on POSIX). A writer that raises leaves the
target untouched and its temporary removed; a process killed mid-write leaves only the hidden
temporary, which ``checkpoint.clean_temporaries`` recognises by its ``.tmp-`` infix.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """The hidden temporary beside ``path`` that this process writes ``path`` through."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data to the disk, so that a power cut keeps it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for a writer that needs one (PIL, matplotlib, safetensors, a download).

    When the block ends normally the temporary is fsynced and renamed over ``path``; when it
    raises, the temporary is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        f.write(text)
