"""A run's report: one self-contained HTML page of its curves, samples, metrics and warnings.

>>> gankit.report.write_report(["runs/a"])                        # runs/a/report.html
>>> gankit.report.write_report(["runs/a", "runs/b"], "compare.html")  # the runs compared

data.py reads a run directory, plots.py draws the curves, html.py writes the page.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gankit.errors import GankitError
from gankit.io.atomic import write_text_atomic
from gankit.report.data import RunData, load_run, unique_names
from gankit.report.html import GENERATOR, render

REPORT_NAME = "report.html"


def default_out(run_dirs: Sequence[str | os.PathLike]) -> Path:
    """RUN/report.html for one run; report.html in the current folder for a comparison."""
    return Path(run_dirs[0]) / REPORT_NAME if len(run_dirs) == 1 else Path(REPORT_NAME)


def load_runs(run_dirs: Sequence[str | os.PathLike]) -> list[RunData]:
    if not run_dirs:
        raise GankitError("no run directory given; name one or more, e.g. gankit report runs/a")
    runs = [load_run(p) for p in run_dirs]
    unique_names(runs)
    return runs


def write_report(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None,
                 refresh: int | None = None) -> Path:
    """Write the report of ``run_dirs`` (several: compared on one page) and return its path.

    An existing ``out`` is replaced only if it is an earlier gankit report; any other file is
    refused, so that a mistyped --out never destroys something else.
    """
    out = Path(out) if out is not None else default_out(run_dirs)
    check_out(out)
    page = render(load_runs(run_dirs), refresh)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, page)
    return out


def check_out(out: Path) -> None:
    if out.suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"--out {out} must end in .html")
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; give a file name ending in .html")
    if out.exists():
        head = out.read_bytes()[:4096].decode("utf-8", "replace")
        if f'content="{GENERATOR}"' not in head:
            raise GankitError(f"{out} exists and is not a gankit report; it was left "
                              "untouched; choose another --out")


def fingerprint(run_dirs: Sequence[str | os.PathLike], out: Path) -> tuple:
    """What changes when a run makes progress: the log's size and time, the files it wrote."""
    parts: list = []
    mine = {out.resolve()} | {(Path(d) / REPORT_NAME).resolve() for d in run_dirs}
    for d in run_dirs:
        for p in sorted(Path(d).rglob("*")):
            if p.is_file() and "checkpoints" not in p.parts and not p.name.startswith(".") \
                    and p.resolve() not in mine:
                st = p.stat()
                parts.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(parts)


def watch(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None,
          interval: float = 30.0, rounds: int | None = None,
          on_write: Callable[[Path], None] | None = None) -> Path:
    """Rewrite the report whenever the runs change, checking every ``interval`` seconds.

    The page reloads itself in the browser at the same pace. Stops after ``rounds`` checks
    (None: until interrupted) and leaves a final page that no longer reloads.
    """
    out = Path(out) if out is not None else default_out(run_dirs)
    refresh = max(1, round(interval))
    seen = None
    done = 0
    try:
        while rounds is None or done < rounds:
            now = fingerprint(run_dirs, out)
            if now != seen:
                write_report(run_dirs, out, refresh)
                seen = now
                if on_write:
                    on_write(out)
            done += 1
            if rounds is None or done < rounds:
                time.sleep(interval)
    finally:
        write_report(run_dirs, out)
    return out


__all__ = ["REPORT_NAME", "RunData", "load_run", "load_runs", "watch", "write_report"]
