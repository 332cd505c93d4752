"""A run directory: config, provenance, metrics log, sample grids and checkpoints of one run.

RUN/config.toml    the fully resolved configuration
RUN/run.json       seed, versions, device, command line, start time
RUN/metrics.jsonl  one JSON object per logged step, plus {"event": ...} lines
RUN/samples/       a grid from the fixed noise batch per epoch
RUN/checkpoints/   see gankit.checkpoint
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.checkpoint import write_text_atomic
from gankit.errors import GankitError

CONFIG, RUN_INFO, METRICS = "config.toml", "run.json", "metrics.jsonl"


def versions() -> dict[str, str]:
    from gankit import __version__

    return {"gankit": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def default_run_dir(preset: str | None) -> Path:
    return Path("runs") / f"{preset or 'custom'}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: Path) -> Path:
    """A fresh run directory; an existing non-empty one is refused, never overwritten."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
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


def run_info(seed: int, device: torch.device) -> dict[str, Any]:
    return {"seed": seed, "device": str(device), "versions": versions(),
            "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "torch_threads": torch.get_num_threads()}


class MetricsLog:
    """Append-only JSONL, flushed on every line so that a crash loses nothing logged."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop step lines past ``step``: they belong to a segment lost in a crash."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text("utf-8").splitlines()
                if line.strip() and _step_of(line) <= step]
        write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())


class NullLog(MetricsLog):
    """The metrics log of a process that is not rank 0: it writes nothing."""

    def __init__(self) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def write(self, record: dict[str, Any]) -> None:
        pass


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, TypeError, AttributeError):
        return 0


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
