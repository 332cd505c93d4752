"""The ``gankit`` command: parse arguments, call gankit.api, print. No logic of its own."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from gankit import distributed
from gankit.agecgan.cli import add_commands as add_conditional_commands
from gankit.cli import bench, evaluate, fid, presets, report, sample, theory, train
from gankit.cli.parsing import Parser
from gankit.errors import GankitError

# Each area registers its commands; this order is the order `gankit --help` lists them in.
_AREAS = (train, sample, bench, evaluate, fid, theory, report, presets)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gankit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for area in _AREAS:
        area.add_commands(sub)
    add_conditional_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return distributed.leave_together(code)
    except BrokenPipeError:
        return _reader_gone()
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted; files already written are intact", file=sys.stderr)
        return 130


def _reader_gone() -> int:
    """Whoever read the output stopped (``gankit presets | head -1``): end quietly, with the
    code of a process that SIGPIPE ended (128 + 13), as ``cat`` or ``git log`` do there.

    Standard output now writes to /dev/null, so that flushing it at exit raises nothing.
    """
    with contextlib.suppress(OSError, ValueError):  # stdout may be no file (an embedding app)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 141
