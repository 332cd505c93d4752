"""Read a run directory into what a report shows: curves, sample grids, figures, tables, events.

Everything is derived from the files the trainer and its callbacks write (see
gankit.io.run_dir), so a report can be made of any run, finished, stopped, diverged or still
training. Metric lines are read generically: every numeric key beside the training losses
becomes a curve, whatever callback wrote it.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import GankitError
from gankit.io.metrics_log import METRICS, read_log
from gankit.io.run_dir import CONFIG, RUN_INFO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Keys of the trainer's own log lines; every other numeric key is a periodic metric.
TRAINING_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "lr", "momentum", "samples_per_s")
POSITION_KEYS = ("step", "epoch", "time")
# Numbers of the collapse monitor's lines that are labels or constants, not curves.
NOT_CURVES = ("modes_total", "top_class")
# Folders whose files are not figures or evaluation results of the run.
NOT_FIGURES = ("samples", "checkpoints", "tensorboard")
# Events that are routine bookkeeping rather than something a reader should notice.
ROUTINE_EVENTS = ("epoch_end",)
SAMPLE_NAME = re.compile(r"epoch-(\d+)\.png$")
RAW_SAMPLE_NAME = re.compile(r"epoch-(\d+)-raw\.png$")  # G itself beside its average (train.ema)


@dataclass
class Series:
    """One quantity over a run: at each logged step, its value and the training seconds then."""

    step: np.ndarray
    time: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.step)


@dataclass
class Event:
    """A line of the metrics log that marks something: resumed, stopped, diverged, a warning."""

    name: str
    step: int | None
    epoch: int | None
    details: dict[str, Any]

    @property
    def is_warning(self) -> bool:
        """Divergence and anything a monitor calls a warning; resumes and stops are notes."""
        text = self.name.lower()
        return text == "diverged" or "warn" in text or "collapse" in text


@dataclass
class RunData:
    path: Path
    name: str
    config: dict[str, Any]
    config_text: str
    info: dict[str, Any]
    training: list[dict[str, Any]] = field(default_factory=list)
    metric_lines: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    samples: list[tuple[int, Path]] = field(default_factory=list)
    raw_samples: list[tuple[int, Path]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ curves
    def _time_at(self, steps: np.ndarray) -> np.ndarray:
        """Training seconds at ``steps``, interpolated from the lines that record the time."""
        known = [(r["step"], r["time"]) for r in self.training if _number(r.get("time"))]
        if not known:  # no training line yet: epoch ends also carry the time
            known = [(e.step, e.details["time"]) for e in self.events
                     if e.step is not None and _number(e.details.get("time"))]
        if not known:
            return np.full(len(steps), np.nan)
        known.sort()
        xs, ys = zip(*known, strict=True)
        return np.interp(steps, np.asarray(xs, float), np.asarray(ys, float))

    def series(self, key: str) -> Series:
        """Every logged value of ``key`` (a training key or a periodic metric), by step."""
        lines = self.training if key in TRAINING_KEYS else self.metric_lines
        points = sorted((r["step"], float(r[key])) for r in lines if _number(r.get(key)))
        steps = np.asarray([p[0] for p in points], float)
        values = np.asarray([p[1] for p in points], float)
        return Series(steps, self._time_at(steps), values)

    @property
    def metric_keys(self) -> list[str]:
        """The periodic metrics this run logged (numeric keys of non-training lines)."""
        keys: dict[str, None] = {}
        for r in self.metric_lines:
            for k, v in r.items():
                if k not in POSITION_KEYS and k not in NOT_CURVES and _number(v):
                    keys.setdefault(k)
        return list(keys)

    def class_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """The collapse monitor's class histograms (gankit.training.mode_readers): the steps
        (n,) and each class's share of G's samples then (n, classes)."""
        rows = sorted((r["step"], r["class_shares"]) for r in self.metric_lines
                      if isinstance(r.get("class_shares"), list))
        if not rows:
            return np.zeros(0), np.zeros((0, 0))
        return np.asarray([s for s, _ in rows], float), np.asarray([v for _, v in rows], float)

    @property
    def resumed_steps(self) -> list[int]:
        return [e.step for e in self.events if e.name == "resumed" and e.step is not None]

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        """The facts of the run's header: what ran, where, how long and how fast."""
        versions = self.info.get("versions", {})
        train_cfg = self.config.get("train", {})
        last_step = max([r["step"] for r in self.training] or [0])
        epochs_done = max([e.epoch for e in self.events if e.name == "epoch_end" and e.epoch]
                          or [0])
        train_seconds = max([float(r["time"]) for r in self.training if _number(r.get("time"))]
                            or [0.0])
        speeds = [r["samples_per_s"] for r in self.training if _number(r.get("samples_per_s"))]
        return {
            "run": str(self.path),
            "status": self.status,
            "seed": self.info.get("seed", train_cfg.get("seed")),
            "samples drawn from": self.sampled_generator,
            "device": self.info.get("device", "?"),
            "started": self.info.get("started", "?"),
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform"),
            "platform": versions.get("platform", "?"),
            "command": " ".join(self.info.get("command", [])),
            "steps": last_step,
            "epochs completed": epochs_done,
            "training time": format_seconds(train_seconds),
            "wall clock (start to last log line)": format_seconds(self.wall_seconds),
            "throughput (median samples/s)": (f"{float(np.median(speeds)):,.0f}"
                                              if speeds else "?"),
        }

    @property
    def sampled_generator(self) -> str:
        """Which generator the run's samples come from: G, or its moving average (train.ema)."""
        train_cfg = self.config.get("train", {})
        decay = train_cfg.get("ema", 0)
        if not decay:
            return "G"
        warmup = ", warm-up" if train_cfg.get("ema_warmup", True) else ""
        return f"EMA generator (decay {decay}{warmup})"

    @property
    def wall_seconds(self) -> float:
        """From the start in run.json to the last write of the metrics log (includes pauses)."""
        metrics = self.path / METRICS
        try:
            started = time.mktime(time.strptime(self.info["started"], "%Y-%m-%dT%H:%M:%S%z"))
            return max(0.0, metrics.stat().st_mtime - started)
        except (KeyError, ValueError, OSError):
            return math.nan

    @property
    def status(self) -> str:
        """How the run's last segment ended, as far as the log tells."""
        names = [e.name for e in self.events if e.name not in ROUTINE_EVENTS]
        last = names[-1] if names else None
        epochs = self.config.get("train", {}).get("epochs", 0)
        done = [e.epoch for e in self.events if e.name == "epoch_end" and e.epoch]
        if last == "diverged":
            return "diverged"
        if last == "stopped":
            return "stopped by a signal"
        if epochs and done and max(done) >= epochs:
            return "finished"
        return "running or ended early"


def _add_final_grids(run: RunData, samples: Path) -> None:
    """The grid a run draws when it ends (samples/final.png), shown at its last epoch where no
    epoch grid stands there already: a short run's only picture."""
    epochs = [r["epoch"] for r in run.training if _number(r.get("epoch"))]
    epochs += [e.epoch for e in run.events if e.epoch is not None]
    last = int(max(epochs, default=0))
    for name, grids in (("final.png", run.samples), ("final-raw.png", run.raw_samples)):
        if (samples / name).is_file() and all(e != last for e, _ in grids):
            grids.append((last, samples / name))


def load_run(path: str | Path) -> RunData:
    """Read a run directory; refuse a path that is not one with one clear line."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise GankitError(f"{path} is not a gankit run directory (it has no {CONFIG}); give "
                          "the folder `gankit train --out` wrote")
    config_text = (path / CONFIG).read_text("utf-8")
    try:
        config = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError as exc:
        raise GankitError(f"{path / CONFIG} is not valid TOML ({exc})") from None
    info = _read_json(path / RUN_INFO) or {}
    run = RunData(path=path, name=path.resolve().name, config=config, config_text=config_text,
                  info=info)
    # A run that has just started has no log yet: its report is mostly empty, not an error.
    for record in read_log(path / METRICS) if (path / METRICS).exists() else []:
        if "event" in record or "warning" in record:
            name = str(record.get("event") or "warning")
            details = {k: v for k, v in record.items() if k not in ("event", "step", "epoch")}
            run.events.append(Event(name, _int(record.get("step")), _int(record.get("epoch")),
                                    details))
        elif not _number(record.get("step")):
            continue
        elif any(k in record for k in ("d_loss", "g_loss")):
            run.training.append(record)
        else:
            run.metric_lines.append(_flatten(record))
    run.samples = sorted((int(m.group(1)), p) for p in (path / "samples").glob("epoch-*.png")
                         if (m := SAMPLE_NAME.search(p.name)))
    run.raw_samples = sorted((int(m.group(1)), p) for p in (path / "samples").glob("epoch-*.png")
                             if (m := RAW_SAMPLE_NAME.search(p.name)))
    _add_final_grids(run, path / "samples")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if not p.is_file() or rel.parts[0] in NOT_FIGURES or any(
                part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() == ".png":
            run.figures.append(p)
        elif p.suffix.lower() == ".json" and p.name != RUN_INFO:
            data = _read_json(p)
            if isinstance(data, dict):
                run.evaluations[rel.as_posix()] = _flatten(data)
    return run


def unique_names(runs: list[RunData]) -> None:
    """Give runs with the same folder name their parent's name too, so labels tell them apart."""
    names = [r.name for r in runs]
    for run, name in zip(runs, names, strict=True):
        if names.count(name) > 1:
            run.name = f"{run.path.resolve().parent.name}/{name}"


def final_metrics(runs: list[RunData]) -> dict[str, dict[str, tuple[float, int]]]:
    """For each periodic metric, each run's last value and the step it was measured at."""
    table: dict[str, dict[str, tuple[float, int]]] = {}
    for run in runs:
        for key in run.metric_keys:
            s = run.series(key)
            if len(s):
                table.setdefault(key, {})[run.name] = (float(s.value[-1]), int(s.step[-1]))
    return table


def config_differences(runs: list[RunData]) -> dict[str, list[Any]]:
    """``section.key`` -> each run's value, for the keys whose values differ between runs."""
    flat = [_flatten(r.config) for r in runs]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k, "-") for f in flat] for k in keys
            if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1}


def step_of_epoch(run: RunData, epoch: int) -> int | None:
    """The step at which ``epoch`` ended, from the log's epoch_end events."""
    for e in run.events:
        if e.name == "epoch_end" and e.epoch == epoch:
            return e.step
    return None


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h {m:02d}m {s:02d}s" if hours else f"{m}m {s:02d}s"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables become ``outer.inner`` keys, so nested metrics are plotted too."""
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> int | None:
    return int(value) if _number(value) else None
