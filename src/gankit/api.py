"""The few functions users call: train, resume, load a generator, sample.

>>> run = gankit.train("quickstart", out="runs/q", overrides={"train.epochs": 5})
>>> images = gankit.sample(run.run_dir, 64, seed=0)   # (64, 1, 8, 8) in [0, 1]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gankit import distributed
from gankit.config import Config, build_config, merge
from gankit.errors import GankitError
from gankit.games import check_config, make_trainer
from gankit.io.resume import (
    asked_values,
    resume_overrides,
    resume_point,
    run_dir_of,
    split_sets,
)
from gankit.io.run_dir import RunLock, create_run_dir, default_run_dir
from gankit.sampling import class_labels, for_display, load_generator, sample
from gankit.training.callbacks import Callback
from gankit.training.mode_readers import reader_for
from gankit.training.monitor import AUTO_COLLAPSE_EVERY, CollapseMonitor
from gankit.training.trainer import TrainResult

__all__ = ["check", "class_labels", "for_display", "load_generator", "resume",
           "resume_overrides", "resumed_config", "sample", "save_points", "train"]


def train(preset: str | None = "paper-mnist", *, out: str | os.PathLike | None = None,
          config_file: str | os.PathLike | None = None, sets: Sequence[str] = (),
          overrides: dict[str, Any] | None = None, config: Config | None = None,
          progress: bool = True, callbacks: list[Callback] | None = None) -> TrainResult:
    """Train a new run; ``overrides`` maps ``"section.key"`` to a value (``--set`` in Python)."""
    cfg = config if config is not None else build_config(preset, config_file, sets, overrides)
    callbacks = [*(callbacks or []), *_config_callbacks(cfg)]
    ctx = distributed.from_env()
    run_dir = Path(out) if out else default_run_dir(preset)
    if ctx.active:  # every rank must use rank 0's directory name
        run_dir = Path(distributed.broadcast_str(str(run_dir)))
    with contextlib.ExitStack() as held:
        failure = None
        if ctx.is_main:  # rank 0 holds the run's lock for all ranks
            try:
                held.enter_context(RunLock(run_dir))
                create_run_dir(run_dir)
            except GankitError as exc:
                failure = exc
        if ctx.any(failure is not None, torch.device("cpu")):
            raise failure or GankitError(f"rank 0 could not create run directory {run_dir}")
        return make_trainer(cfg, run_dir, progress=progress,
                            callbacks=[*callbacks, *view_callbacks(cfg), *monitor_callbacks(cfg)],
                            dist=ctx).fit()


def resume(run_dir: str | os.PathLike, *, epochs: int | None = None,
           device: str | None = None, sets: Sequence[str] = (), progress: bool = True,
           callbacks: list[Callback] | None = None, preset: str | None = None,
           config_file: str | os.PathLike | None = None) -> TrainResult:
    """Continue a run from its newest intact checkpoint; ``epochs`` may extend it.

    ``sets`` of ``speed.*`` may switch the step, threads or compilation for the rest of the
    run: each is the same update up to float rounding. The settings used from then on are in
    the checkpoints written after it and in the log's ``resumed`` line. Any other ``sets``,
    and the config ``preset`` and ``config_file`` build, must equal the saved run's: the
    command line that started the run may be given again (``io.resume.asked_values``).
    """
    ctx = distributed.from_env()
    root = run_dir_of(run_dir)
    with RunLock(root) if ctx.is_main else contextlib.nullcontext():
        path, cfg = _resume_point(run_dir, ctx.is_main, epochs, device, sets, preset,
                                  config_file)
        callbacks = [*(callbacks or []), *_config_callbacks(cfg), *view_callbacks(cfg),
                     *monitor_callbacks(cfg)]
        return make_trainer(cfg, root, resume_from=path, progress=progress, callbacks=callbacks,
                            dist=ctx).fit()


def resumed_config(run_dir: str | os.PathLike, *, epochs: int | None = None,
                   device: str | None = None, sets: Sequence[str] = (), preset: str | None = None,
                   config_file: str | os.PathLike | None = None) -> Config:
    """The config ``resume`` with these arguments would continue with; reads, writes nothing."""
    return _resume_point(run_dir, False, epochs, device, sets, preset, config_file)[1]


def check(cfg: Config, processes: int = 1) -> None:
    """Every check of ``cfg`` that needs no worker: its cross-field rules, its game's own, the
    device and the split of the global batch over ``processes``.

    A data-parallel launch runs them first, so that a bad value is one line before any worker
    (and torchrun's output) starts.
    """
    if processes < 1:
        raise GankitError(f"--nproc {processes} must be at least 1")
    check_config(cfg, processes > 1)
    ctx = distributed.DistContext(world=processes)
    distributed.local_batch(cfg.train.batch_size, ctx)
    distributed.device_for(ctx, cfg.train.device)


def _resume_point(run_dir: str | os.PathLike, clean: bool, epochs: int | None,
                  device: str | None, sets: Sequence[str], preset: str | None,
                  config_file: str | os.PathLike | None) -> tuple[Path | None, Config]:
    """The checkpoint a resume continues from and the config it continues with (``resume``)."""
    changes, matches = split_sets(sets)
    overrides = resume_overrides(changes)
    asked = asked_values(preset, config_file, matches) \
        if preset or config_file or matches else None
    path, cfg, warnings = resume_point(run_dir, clean=clean, asked=asked)
    if clean:
        for w in warnings:
            print(f"gankit: warning: {w}")
    options = {k: v for k, v in (("epochs", epochs), ("device", device)) if v is not None}
    cfg = merge(cfg, {"train": options}, "resume options")
    for assignment, override in zip(changes, overrides, strict=True):
        cfg = merge(cfg, override, f"--set {assignment}")
    return path, cfg


def save_points(points: torch.Tensor, source: str | os.PathLike,
                path: str | os.PathLike) -> Path:
    """A 1-D or 2-D generator's ``points`` drawn over its run's true density, as the run's own
    figures are (1-D: a histogram; 2-D: a scatter)."""
    from gankit.data.toy import distribution
    from gankit.figures.game import save_sample_plot
    from gankit.io import checkpoint as ckpt

    resolved, _ = ckpt.resolve(source)
    _, state = ckpt.read_checkpoint(resolved)
    name = ckpt.saved_config(state, resolved).data.name
    return save_sample_plot(points, distribution(name), path,
                            f"{len(points)} samples of {resolved.name}, over p_data ({name})")


def _config_callbacks(cfg: Config) -> list[Callback]:
    """Callbacks the config switches on (periodic evaluation when eval.every > 0)."""
    from gankit.metrics.periodic import callbacks_for

    return callbacks_for(cfg)


def monitor_callbacks(cfg: Config) -> list[Callback]:
    """The collapse monitor when ``monitor.collapse_every`` asks for it; by default (-1) on
    the data whose modes a reader knows, at an interval measured to cost under 2% of training."""
    every, reader = cfg.monitor.collapse_every, reader_for(cfg.data)
    if every < 0:  # auto: not DiscoGAN (no noise), not one-mode data (nothing to collapse)
        auto = cfg.game.name == "gan" and reader is not None and reader.modes_total > 1
        every = AUTO_COLLAPSE_EVERY if auto else 0
    if not every:
        return []
    return [CollapseMonitor(every, cfg.monitor.collapse_samples, reader=reader)]


def view_callbacks(cfg: Config) -> list[Callback]:
    """The [report] section's callbacks; last, so that they see what the others logged."""
    from gankit.report.callback import WriteReport
    from gankit.report.tensorboard import TensorBoardLogger

    return ([TensorBoardLogger()] if cfg.report.tensorboard else []) + (
        [WriteReport()] if cfg.report.html else [])
