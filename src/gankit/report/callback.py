"""The trainer's hook that writes RUN/report.html when a run ends (config: report.html)."""

from __future__ import annotations

import sys

from gankit.errors import GankitError
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer


class WriteReport(Callback):
    """Writes the run's report once training stops: finished, stopped by a signal or diverged.

    Put it after the callbacks that write metrics or figures, so that the page shows them. A
    failure to write the report never hides how training ended: it is printed as a warning.
    """

    def on_train_end(self, trainer: Trainer) -> None:
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            return  # a second Ctrl-C asked to exit at once
        from gankit.report import write_report  # matplotlib is imported only when needed

        try:
            path = write_report([trainer.run_dir])
        except (GankitError, OSError, ValueError) as exc:
            print(f"gankit: warning: no report written: {exc}", file=sys.stderr)
            return
        if trainer.progress:
            print(f"report: {path}", file=sys.stderr)
