"""What keeps a run alive through faults: resuming after any crash, rolling back a divergence,
and a clear error (never a half-written file) when the disk is full or read-only.

Which checkpoint a resume continues from is decided in gankit.io.resume. The promises and the
tests that prove them are listed in docs/reliability.md.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from gankit.errors import DivergenceError, StorageError

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer, TrainResult

# Errors of a write that the user fixes by freeing space or changing permissions.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES,
                  errno.EPERM}


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
