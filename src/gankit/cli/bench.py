"""``gankit bench`` (also ``python -m gankit.bench``): parse, call gankit.bench.run, print."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.bench import format_report, run
from gankit.errors import GankitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=6,
                        help="alternating chunks the steps are split into")
    parser.add_argument("--steps", type=int, default=120,
                        help="steps per contestant at the preset's batch (curve: same examples)")
    parser.add_argument("--batches", default="50,100,200,500,1000",
                        help="batch sizes of the throughput curve")
    parser.add_argument("--preset", default="paper-mnist")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, help="also write the figures here")


def main_from_args(args: argparse.Namespace) -> int:
    try:
        batches = tuple(int(b) for b in args.batches.split(",") if b)
    except ValueError:
        raise GankitError(f"--batches {args.batches!r} must be integers separated by commas"
                          ) from None
    if args.rounds < 1 or args.steps < 1 or not batches or min(batches) < 1:
        raise GankitError("--rounds, --steps and every batch size must be at least 1")
    result = run(args.rounds, args.steps, batches, args.data_dir, args.preset, tuple(args.set))
    print(format_report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="training/sampling throughput beside a plain PyTorch loop "
                       "and the machine's matmul rate")
    add_arguments(b)
    b.set_defaults(func=main_from_args)
