"""RUN/metrics.jsonl: one JSON object per line, the only place its format is written or read.

Lines are the trainer's losses (``{"step", "epoch", "d_loss", ...}``), metrics that callbacks
return or log (``{"step", "epoch", "score": ...}``) and events (``{"event": "resumed", "step",
...}``). Each line is flushed and fsynced as it is written, so a crash loses at most the line
being written; readers skip such a torn line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gankit.io.atomic import write_text_atomic

METRICS = "metrics.jsonl"

Record = dict[str, Any]


class MetricsLog:
    """Append-only JSONL, flushed on every line so that a crash loses nothing logged.

    ``listeners`` are called with each record after it is written: how a callback in the same
    process sees every line (e.g. another callback's metrics) without reading the file back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listeners: list[Callable[[Record], None]] = []

    def truncate_after(self, step: int) -> None:
        """Drop step lines past ``step``: they belong to a segment lost in a crash."""
        if not self.path.exists():
            return
        text = self.path.read_text("utf-8", errors="replace")
        kept = [line for line in text.splitlines() if 0 <= _line_step(line) <= step]
        write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: Record) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        for listener in self.listeners:
            listener(record)


class NullLog(MetricsLog):
    """The metrics log of a process that is not rank 0: it writes (and announces) nothing."""

    def __init__(self) -> None:
        self.listeners = []

    def truncate_after(self, step: int) -> None:
        pass

    def write(self, record: Record) -> None:
        pass


def step_of(record: Any) -> int:
    """The step a parsed line belongs to (an event without one: 0); -1 when it has no usable
    step or is not a JSON object."""
    try:
        return int(record.get("step", 0))
    except (ValueError, TypeError, AttributeError, OverflowError):
        return -1


def _line_step(line: str) -> int:
    """The step of a raw line; -1 for a line torn by a crash (dropped on resume)."""
    try:
        return step_of(json.loads(line))
    except ValueError:
        return -1


def read_log(path: str | os.PathLike) -> list[Record]:
    """Every JSON object of a metrics log file; a line cut short by a crash or by a writer
    still appending it is skipped, wherever it stands."""
    records = []
    for line in Path(path).read_text("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(run_dir: str | os.PathLike) -> list[Record]:
    """The records of a run's log that belong to a step (what a resume keeps): torn lines and
    lines without a usable step are left out."""
    return [r for r in read_log(Path(run_dir) / METRICS) if step_of(r) >= 0]
