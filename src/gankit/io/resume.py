"""How a run resumes: which run directory and checkpoint ``--resume PATH`` means, the config it
continues with, and what a resumed run may change.

What a checkpoint holds (format, save, resolve, read, prune) is gankit.io.checkpoint; the trainer
loads the checkpoint this module picks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.config import Config, load_config_toml, parse_set
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import METRICS
from gankit.io.run_dir import CONFIG

# What a resumed run may change: how fast its steps run, never what they compute.
RESUME_SECTIONS = ("speed",)


def run_dir_of(path: str | os.PathLike) -> Path:
    """The run directory that ``--resume PATH`` continues (PATH may name one checkpoint)."""
    path = Path(path)
    if (path / ckpt.MANIFEST).exists() or (path / ckpt.TENSORS).exists():
        return path.parent.parent
    if not path.is_dir():
        raise CheckpointError(f"{path} is neither a run directory with checkpoints/ nor a "
                              "checkpoint folder; pass the --out folder of a training run")
    return path


def resume_point(path: str | os.PathLike,
                 clean: bool = True) -> tuple[Path | None, Config, list[str]]:
    """The checkpoint to continue from, the run's saved config, and warnings to show.

    Call it with the run locked. Leftovers of writes that a crash cut short are cleared first
    (``clean``; only the process that holds the lock may, e.g. rank 0 of a distributed run).
    A run killed before its first checkpoint has none: the checkpoint is then None and the
    run starts again from step 0 with its saved config.toml, which, training being
    deterministic, ends exactly where the uninterrupted run would have.
    """
    path = Path(path)
    run_dir = run_dir_of(path)
    root = run_dir / "checkpoints"
    if clean:
        ckpt.clean_temporaries(root)
    if path == run_dir and not ckpt.list_checkpoints(root) and (run_dir / CONFIG).exists():
        cfg = _as_trained(load_config_toml(run_dir / CONFIG))
        if clean:
            (run_dir / METRICS).unlink(missing_ok=True)
        return None, cfg, [f"{run_dir} holds no checkpoint yet (it was stopped before its "
                           "first one); starting it again from step 0 with its config.toml"]
    resolved, warnings = ckpt.resolve(path)
    _, state = ckpt.read_checkpoint(resolved)
    if "averaged_from" in state:
        raise CheckpointError(f"{resolved} is an average of generators (gankit average) with no "
                              "discriminator or optimiser state; resume one of the runs it was "
                              "averaged from")
    return resolved, _as_trained(ckpt.saved_config(state, resolved)), warnings


def _as_trained(cfg: Config) -> Config:
    """A saved config as its run trained. New runs save a folder's data.color = "auto" resolved
    ("grey" or "rgb"); a run that saved "auto" predates that and decoded its folder as RGB."""
    if cfg.data.name == "folder" and cfg.data.color == "auto":
        cfg.data.color = "rgb"
    return cfg


def resume_overrides(sets: Sequence[str]) -> list[dict[str, Any]]:
    """``sets`` parsed, each refused unless a resumed run may take it (RESUME_SECTIONS)."""
    overrides = [parse_set(assignment) for assignment in sets]
    for assignment, override in zip(sets, overrides, strict=True):
        if override.keys() - set(RESUME_SECTIONS):
            raise GankitError(f"--set {assignment} cannot change a resumed run (only "
                              f"{', '.join(s + '.*' for s in RESUME_SECTIONS)} may); start a "
                              "new run with --set instead")
    return overrides
