"""A run directory: config, provenance, metrics log, sample grids and checkpoints of one run.

RUN/config.toml    the fully resolved configuration
RUN/run.json       seed, versions, device, command line, start time (run_info)
RUN/metrics.jsonl  one JSON object per logged step, plus {"event": ...} lines (metrics_log)
RUN/samples/       a grid from the fixed noise batch per epoch
RUN/checkpoints/   see gankit.io.checkpoint
RUN/.lock          held (fcntl.flock) by the one process writing the run; see RunLock
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.io.atomic import write_text_atomic
from gankit.io.metrics_log import METRICS
from gankit.version import __version__

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, the lock is a no-op
    fcntl = None  # type: ignore[assignment]

CONFIG, RUN_INFO, LOCK = "config.toml", "run.json", ".lock"

__all__ = ["CONFIG", "LOCK", "METRICS", "RUN_INFO", "RunLock", "create_run_dir",
           "default_run_dir", "write_run_info"]


def default_run_dir(preset: str | None) -> Path:
    return Path("runs") / f"{preset or 'custom'}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: Path) -> Path:
    """A fresh run directory; an existing non-empty one is refused, never overwritten.

    The lock file alone does not count: RunLock may have made it, or a crash left it behind.
    """
    if path.exists() and (not path.is_dir() or any(p.name != LOCK for p in path.iterdir())):
        raise GankitError(f"run directory {path} already exists and is not empty; continue it "
                          "with --resume, or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create run directory {path}: {exc.strerror}; choose a "
                          "writable --out") from None
    return path


def write_run_info(path: Path, info: dict[str, Any]) -> None:
    write_text_atomic(path / RUN_INFO, json.dumps(info, indent=1) + "\n")


class RunLock:
    """One writer per run directory: an exclusive ``flock`` on ``RUN/.lock``.

    The kernel drops the lock when its process dies, however it dies, so a lock file left by
    a crash (SIGKILL, power loss) is stale by construction and simply taken over; the pid,
    host, start time and command written into the file only serve the refusal message. The
    file is removed on release, and a taker checks that the file it locked is still the one
    at the path, so two processes can never hold locks on different generations of it.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is None:  # pragma: no cover
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GankitError(f"cannot create run directory {self.path.parent}: "
                              f"{exc.strerror}; choose a writable --out") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise GankitError(f"cannot lock run directory {self.path.parent}: "
                                  f"{exc.strerror}; it must be writable") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                raise GankitError(f"run directory {self.path.parent} is in use by another "
                                  f"gankit process ({holder}); wait for it to finish or stop "
                                  "it, or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released (and removed) it between our open and flock
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": sys.argv}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(holder) + "\n").encode())
        except OSError:
            pass  # the lock holds without its description (e.g. a full disk)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "its description is unreadable"


def versions() -> dict[str, str]:
    return {"gankit": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def run_info(seed: int, device: torch.device) -> dict[str, Any]:
    """A run's provenance for RUN/run.json: versions, seed, device, command line, start."""
    return {"seed": seed, "device": str(device), "versions": versions(),
            "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "torch_threads": torch.get_num_threads()}
