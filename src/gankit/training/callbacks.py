"""The events the training loop emits, as methods a callback overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer


class Callback:
    """Something that runs beside the loop (periodic evaluation, monitors, extra loggers).

    Override what you need. ``on_epoch_end`` may return extra metrics, which the trainer writes
    to the metrics log as one line with the step and epoch. Callbacks must not draw from the
    global RNG, so that a run with them ends with the same weights as one without.

    In a data-parallel run callbacks run on rank 0 only, unless ``all_ranks`` is true: then
    every rank calls them at the same point (for collectives, e.g. sharing out the generation
    of evaluation samples) and only rank 0's return value is logged.
    """

    all_ranks = False

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """After each metrics line of the training losses is written."""

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        """After a checkpoint is written (rank 0)."""

    def on_epoch_end(self, trainer: Trainer) -> dict[str, Any] | None:
        """After an epoch's grid and checkpoint are written."""
        return None

    def on_train_end(self, trainer: Trainer) -> None:
        """Once, when fit() returns normally or after a stop request."""
