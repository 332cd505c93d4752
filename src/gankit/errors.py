"""Errors a user can act on.

Each carries one line that names the problem and the fix; the CLI prints it and exits with
``exit_code`` instead of showing a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class GankitError(Exception):
    """Bad input: a missing or corrupt file, an invalid config value, a wrong checkpoint."""

    exit_code = 2


class ConfigError(GankitError):
    """A configuration value or key that cannot be used."""


class DataError(GankitError):
    """A dataset that is missing, truncated or fails its checksum."""


class CheckpointError(GankitError):
    """A checkpoint that is damaged or belongs to another model."""


class DivergenceError(GankitError):
    """Training produced NaN or inf; the last good checkpoint was kept."""

    exit_code = 1


class StorageError(GankitError):
    """The output cannot be written (disk full, read-only, quota); what was saved is intact."""

    exit_code = 1


def run_script(main: Callable[[], object]) -> None:
    """Run a script's ``main`` as the CLI runs a command: bad input ends in its one line on
    stderr and its exit code, not a traceback (the benchmarks use it)."""
    try:
        main()
    except GankitError as exc:
        print(f"{sys.argv[0]}: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
