"""What keeps a run alive through faults: resuming after any crash, rolling back a divergence,
and a clear error (never a half-written file) when the disk is full or read-only.

The promises and the tests that prove them are listed in docs/reliability.md.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gankit import checkpoint as ckpt
from gankit.config import Config, load_config_toml
from gankit.errors import CheckpointError, DivergenceError, StorageError
from gankit.runs import CONFIG, METRICS

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer, TrainResult

# Errors of a write that the user fixes by freeing space or changing permissions.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES,
                  errno.EPERM}


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
        cfg = load_config_toml(run_dir / CONFIG)
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
    return resolved, ckpt.saved_config(state, resolved), warnings


def guarded_fit(trainer: Trainer, fit_once: Callable[[], TrainResult]) -> TrainResult:
    """``fit_once()``, rolling back divergences when the config asks for it, and turning a
    failed write into a StorageError that names what is still intact."""
    rollbacks = 0
    while True:
        try:
            return fit_once()
        except DivergenceError as exc:
            cfg = trainer.cfg.divergence
            # Distributed runs stop instead: only rank 0 knows the checkpoint to go back to.
            if cfg.action != "rollback" or trainer.last_checkpoint is None \
                    or trainer.dist.active:
                raise
            if rollbacks >= cfg.max_rollbacks:
                raise DivergenceError(f"{exc}; gave up after {rollbacks} roll-backs "
                                      "(divergence.max_rollbacks)") from None
            rollbacks += 1
            roll_back(trainer, cfg.lr_factor**rollbacks, str(exc))
        except OSError as exc:
            if exc.errno not in STORAGE_ERRNOS:
                raise
            kept = (f"the last checkpoint {trainer.last_checkpoint} is intact"
                    if trainer.last_checkpoint else "no checkpoint had been written yet")
            raise StorageError(f"cannot write {exc.filename or trainer.run_dir}: "
                               f"{exc.strerror}; {kept}; free space or make the output "
                               "writable, then resume") from None


def roll_back(trainer: Trainer, lr_factor: float, reason: str) -> None:
    """Reload the last good checkpoint and scale both players' learning rates by lr_factor
    (divergence.lr_factor to the power of the roll-backs so far: each one lowers it further).

    The lower rate lives in each schedule's base rates, which checkpoints save, so it stays
    lowered after a later resume.
    """
    diverged_step = trainer.step
    trainer.restore(trainer.last_checkpoint)  # weights, optimisers, RNG, position; trims the log
    for player in (trainer.g, trainer.d):
        player.scale_lr(lr_factor)
    trainer.metrics.write({"event": "rolled_back", "step": trainer.step,
                           "diverged_step": diverged_step, "lr": trainer.d.lr,
                           "checkpoint": trainer.last_checkpoint.name, "reason": reason})
    print(f"gankit: warning: {reason}; rolled back to step {trainer.step} with learning rates "
          f"x{lr_factor}", file=sys.stderr)
