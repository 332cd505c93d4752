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
from torch import nn

from gankit import checkpoint as ckpt
from gankit import distributed
from gankit.config import Config, build_config, merge
from gankit.data.ranges import to_unit
from gankit.errors import CheckpointError, GankitError
from gankit.games import make_trainer
from gankit.io.resume import RESUME_SECTIONS as RESUME_SECTIONS  # noqa: F401 - re-exported
from gankit.io.resume import resume_overrides, resume_point, run_dir_of
from gankit.io.run_dir import RunLock, create_run_dir, default_run_dir
from gankit.monitor import CollapseMonitor
from gankit.nets import build_generator
from gankit.noise import sample_noise
from gankit.training.callbacks import Callback
from gankit.training.trainer import TrainResult


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
           callbacks: list[Callback] | None = None) -> TrainResult:
    """Continue a run from its newest intact checkpoint; ``epochs`` may extend it.

    ``sets`` (``speed.KEY=VALUE``) may switch the step, threads or compilation for the rest of
    the run: each is the same update up to float rounding. The settings used from then on are
    in the checkpoints written after it and in the log's ``resumed`` line.
    """
    overrides = resume_overrides(sets)
    ctx = distributed.from_env()
    root = run_dir_of(run_dir)
    with RunLock(root) if ctx.is_main else contextlib.nullcontext():
        path, cfg, warnings = resume_point(run_dir, clean=ctx.is_main)
        for w in warnings:
            print(f"gankit: warning: {w}")
        changes: dict[str, Any] = {}
        if epochs is not None:
            changes["epochs"] = epochs
        if device is not None:
            changes["device"] = device
        cfg = merge(cfg, {"train": changes}, "resume options")
        for assignment, override in zip(sets, overrides, strict=True):
            cfg = merge(cfg, override, f"--set {assignment}")
        callbacks = [*(callbacks or []), *_config_callbacks(cfg), *view_callbacks(cfg),
                     *monitor_callbacks(cfg)]
        return make_trainer(cfg, root, resume_from=path, progress=progress, callbacks=callbacks,
                            dist=ctx).fit()


def _config_callbacks(cfg: Config) -> list[Callback]:
    """Callbacks the config switches on (periodic evaluation when eval.every > 0)."""
    from gankit.metrics.periodic import callbacks_for

    return callbacks_for(cfg)


def monitor_callbacks(cfg: Config) -> list[Callback]:
    """The collapse monitor when ``monitor.collapse_every`` asks for it."""
    if not cfg.monitor.collapse_every:
        return []
    return [CollapseMonitor(cfg.monitor.collapse_every, cfg.monitor.collapse_samples)]


def view_callbacks(cfg: Config) -> list[Callback]:
    """The [report] section's callbacks; last, so that they see what the others logged."""
    from gankit.report.callback import WriteReport
    from gankit.tensorboard import TensorBoardLogger

    return ([TensorBoardLogger()] if cfg.report.tensorboard else []) + (
        [WriteReport()] if cfg.report.html else [])


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """The generator of a run directory (its latest intact checkpoint) or checkpoint folder."""
    resolved, tensors, state, cfg = ckpt.load_players(
        path, "gan", "its generators map images, not noise: use `gankit translate`")
    try:
        g = build_generator(cfg.model, tuple(state["image_shape"]), condition=cfg.condition)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {resolved} holds a generator that does not match its "
                              f"own config ({str(exc).splitlines()[0]})") from None
    ckpt.load_prefixed(g, tensors, "G/", resolved)
    return g.to(device).eval()


def for_display(images: torch.Tensor, source: str | os.PathLike | nn.Module) -> torch.Tensor:
    """Samples of ``source``'s generator mapped to [0, 1] for pictures (tanh: (x + 1) / 2)."""
    g = source if isinstance(source, nn.Module) else load_generator(source)
    return to_unit(images, getattr(g, "output", "sigmoid"))


def sample(source: str | os.PathLike | nn.Module, n: int, seed: int | None = None,
           device: str | torch.device = "cpu", batch_size: int = 1000,
           labels: Sequence[int] | torch.Tensor | None = None,
           dist: distributed.DistContext | None = None) -> torch.Tensor:
    """``n`` samples (N, C, H, W) in the data's range, from a generator or a run/checkpoint path.

    A conditional generator draws sample i of class ``labels[i]`` (default: i mod classes).
    With ``dist`` (a data-parallel run's context, every rank calling), each process generates
    its share of the n samples and every rank returns all of them: the same as one process.
    """
    if n < 1:
        raise GankitError(f"the number of samples must be at least 1, got {n}")
    g = source if isinstance(source, nn.Module) else load_generator(source, device)
    gen = torch.Generator()
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    # All noise is drawn at once on the CPU: the samples do not depend on batch_size or device.
    z = sample_noise(n, g.noise_dim, g.prior, "cpu", gen)
    device = next(g.parameters()).device
    y = class_labels(g, n, labels)
    ctx = dist or distributed.DistContext()
    lo, hi = ctx.rows(n)
    with torch.no_grad():  # range(...) or [lo]: a rank with no share still yields 0 rows
        parts = [(g(z[i:min(i + batch_size, hi)].to(device)) if y is None else
                  g(z[i:min(i + batch_size, hi)].to(device),
                    y[i:min(i + batch_size, hi)].to(device))).cpu()
                 for i in range(lo, hi, batch_size) or [lo]]
    return ctx.gather_rows(torch.cat(parts), n)


def class_labels(g: nn.Module, n: int, labels: Sequence[int] | torch.Tensor | None
                 ) -> torch.Tensor | None:
    """Checked labels for ``n`` samples of ``g`` (None for an unconditional generator)."""
    classes = getattr(g, "classes", 0)
    if not classes:
        if labels is not None:
            raise GankitError("this generator is unconditional; it takes no class labels")
        return None
    y = torch.arange(n) % classes if labels is None else torch.as_tensor(labels).long().flatten()
    if len(y) == 1:
        y = y.expand(n)
    if len(y) != n or int(y.min()) < 0 or int(y.max()) >= classes:
        raise GankitError(f"need {n} class labels in 0..{classes - 1} (or one for all), got "
                          f"{y.tolist()[:10]}")
    return y
