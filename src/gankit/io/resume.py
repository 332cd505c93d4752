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

from gankit.config import Config, build_config, load_config_toml, parse_set
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import METRICS
from gankit.io.run_dir import CONFIG

# What a resumed run may change: how fast its steps run, never what they compute; and how long
# it runs and where (``--epochs`` extends it, ``--device`` moves it).
RESUME_SECTIONS = ("speed",)
RESUME_KEYS = ("train.epochs", "train.device")


def run_dir_of(path: str | os.PathLike) -> Path:
    """The run directory that ``--resume PATH`` continues (PATH may name one checkpoint)."""
    path = Path(path)
    if (path / ckpt.MANIFEST).exists() or (path / ckpt.TENSORS).exists():
        return path.parent.parent
    if not path.is_dir():
        raise CheckpointError(f"{path} is neither a run directory with checkpoints/ nor a "
                              "checkpoint folder; pass the --out folder of a training run")
    return path


def resume_point(path: str | os.PathLike, clean: bool = True,
                 asked: dict[str, Any] | None = None) -> tuple[Path | None, Config, list[str]]:
    """The checkpoint to continue from, the run's saved config, and warnings to show.

    Call it with the run locked. Leftovers of writes that a crash cut short are cleared first
    (``clean``; only the process that holds the lock may, e.g. rank 0 of a distributed run).
    A run killed before its first checkpoint has none: the checkpoint is then None and the
    run starts again from step 0 with its saved config.toml, which, training being
    deterministic, ends exactly where the uninterrupted run would have.

    ``asked`` (``asked_values``: what the command line asks the run to be) is checked against
    the saved config before anything of the run is removed (``refuse_changes``).
    """
    path = Path(path)
    run_dir = run_dir_of(path)
    root = run_dir / "checkpoints"
    if clean:
        ckpt.clean_temporaries(root)
    if path == run_dir and not ckpt.list_checkpoints(root) and (run_dir / CONFIG).exists():
        cfg = _as_trained(load_config_toml(run_dir / CONFIG))
        refuse_changes(run_dir, cfg, asked)
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
    cfg = _as_trained(ckpt.saved_config(state, resolved))
    refuse_changes(run_dir, cfg, asked)
    return resolved, cfg, warnings


def _as_trained(cfg: Config) -> Config:
    """A saved config as its run trained. New runs save a folder's data.color = "auto" resolved
    ("grey" or "rgb"); a run that saved "auto" predates that and decoded its folder as RGB."""
    if cfg.data.name == "folder" and cfg.data.color == "auto":
        cfg.data.color = "rgb"
    return cfg


def may_change(key: str) -> bool:
    """Whether a resumed run may take a new value of ``key`` (``section.key``)."""
    return key.split(".")[0] in RESUME_SECTIONS or key in RESUME_KEYS


def flat(tree: dict[str, Any]) -> dict[str, Any]:
    """``{"optim": {"lr": 0.1}}`` -> ``{"optim.lr": 0.1}``; tuples read as lists, as TOML has."""
    return {f"{section}.{key}": list(v) if isinstance(v, tuple) else v
            for section, values in tree.items() for key, v in values.items()}


def resume_overrides(sets: Sequence[str]) -> list[dict[str, Any]]:
    """``sets`` parsed, each refused unless a resumed run may take it (RESUME_SECTIONS)."""
    overrides = [parse_set(assignment) for assignment in sets]
    for assignment, override in zip(sets, overrides, strict=True):
        if not all(may_change(k) for k in flat(override)):
            allowed = [*(s + ".*" for s in RESUME_SECTIONS), *RESUME_KEYS]
            raise GankitError(f"--set {assignment} cannot change a resumed run (only "
                              f"{', '.join(allowed)} may); start a new run with --set instead")
    return overrides


def split_sets(sets: Sequence[str]) -> tuple[list[str], list[str]]:
    """``sets`` of a resumed run's command line: (those it may change, those it must match)."""
    changes = [s for s in sets if all(may_change(k) for k in flat(parse_set(s)))]
    return changes, [s for s in sets if s not in changes]


def asked_values(preset: str | None, config_file: str | os.PathLike | None,
                 sets: Sequence[str]) -> dict[str, Any]:
    """What a command line asks the run to be, by ``section.key``, less what may change.

    With a preset or config file that is the whole config they build; with ``--set`` alone,
    the keys it names (a run first started without ``--preset`` is matched value by value).
    """
    values = flat(build_config(preset, config_file, sets).to_dict())
    if not (preset or config_file):
        named = {k for s in sets for k in flat(parse_set(s))}
        values = {k: v for k, v in values.items() if k in named}
    return {k: v for k, v in values.items() if not may_change(k)}


def refuse_changes(run_dir: Path, saved: Config, asked: dict[str, Any] | None) -> None:
    """Refuse to resume when the command line asks for another run than the saved one."""
    before = flat(saved.to_dict())
    # data.color = "auto" resolves when a run starts (grey or rgb): the original command line
    # saying "auto" asks for the same run.
    differ = [f"{k} (saved {before[k]!r}, given {v!r})" for k, v in (asked or {}).items()
              if before[k] != v and not (k == "data.color" and v == "auto")]
    if differ:
        raise GankitError(f"--resume {run_dir} continues the run with its saved config, and "
                          f"this command line differs in {'; '.join(differ)}; drop those "
                          "options (only --epochs, --device and speed.* may change), or "
                          "start a new run with another --out")
