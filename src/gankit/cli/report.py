"""``gankit report``: a run's HTML report, or several runs compared, once or on every change."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gankit.errors import GankitError


def _report(args: argparse.Namespace) -> int:
    from gankit import report  # matplotlib is imported only for this command

    if args.interval <= 0:
        raise GankitError(f"--interval must be positive, got {args.interval}")
    if not args.watch:
        print(f"wrote {report.write_report(args.runs, args.out)}")
        return 0
    print(f"watching {', '.join(map(str, args.runs))} every {args.interval:g}s; Ctrl-C stops",
          file=sys.stderr)
    try:
        report.watch(args.runs, args.out, args.interval,
                     on_write=lambda path: print(f"wrote {path}", flush=True))
    except KeyboardInterrupt:
        print("stopped watching; the report no longer reloads itself", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="write a run's HTML report, or compare several runs")
    r.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", type=Path,
                   help="the HTML file (default: RUN_DIR/report.html, or report.html for several)")
    r.add_argument("--watch", action="store_true",
                   help="rewrite the report whenever the runs change, until Ctrl-C")
    r.add_argument("--interval", type=float, default=30.0,
                   help="seconds between checks with --watch (default 30)")
    r.set_defaults(func=_report)
