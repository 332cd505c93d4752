"""The ``gankit`` command: parse arguments, call gankit.api, print. No logic of its own."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import numpy as np

from gankit import api, bench
from gankit.config import preset_names, preset_summary
from gankit.errors import GankitError
from gankit.figures import save_grid


def _train(args: argparse.Namespace) -> int:
    if args.resume:
        clashes = [flag for flag, value in (("--preset", args.preset), ("--config", args.config),
                                            ("--set", args.set), ("--out", args.out),
                                            ("--seed", args.seed), ("--data-dir", args.data_dir))
                   if value]
        if clashes:
            raise GankitError(f"--resume continues a run with its saved config; drop "
                              f"{', '.join(clashes)} (only --epochs and --device may change)")
        result = api.resume(args.resume, epochs=args.epochs, device=args.device,
                            progress=not args.quiet)
    else:
        sets = list(args.set or [])
        sets += [f"train.{k}={v!r}" if isinstance(v, str) else f"train.{k}={v}"
                 for k, v in (("epochs", args.epochs), ("seed", args.seed),
                              ("device", args.device)) if v is not None]
        if args.data_dir:
            sets.append(f"data.data_dir={str(args.data_dir)!r}")
        result = api.train(args.preset or (None if args.config else "paper-mnist"),
                           out=args.out, config_file=args.config, sets=sets,
                           progress=not args.quiet)
    where = f"checkpoint {result.checkpoint}" if result.checkpoint else "no checkpoint"
    if result.stopped_by is not None:
        name = signal.Signals(result.stopped_by).name
        print(f"gankit: stopped by {name} after step {result.step}; {where} written; continue "
              f"with: gankit train --resume {result.run_dir}", file=sys.stderr)
        return 128 + result.stopped_by
    print(f"trained {result.epoch} epochs ({result.step} steps) in {result.run_dir}; {where}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    images = api.sample(args.source, args.n, seed=args.seed, device=args.device)
    if args.out:
        print(f"wrote {save_grid(images, args.out, scale=max(1, 56 // images.shape[-1]))}")
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, images.numpy())
        print(f"wrote {args.npy} {tuple(images.shape)}")
    if not (args.out or args.npy):
        raise GankitError("nothing to write; give --out grid.png and/or --npy samples.npy")
    return 0


def _presets(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:<16} {preset_summary(name)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (a new run, or --resume one)")
    t.add_argument("--preset", help="a preset from `gankit presets` (default: paper-mnist)")
    t.add_argument("--config", type=Path, help="a TOML file overriding the preset")
    t.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable)")
    t.add_argument("--out", type=Path, help="run directory (default: runs/<preset>-<time>)")
    t.add_argument("--epochs", type=int, help="epochs to train (0: until stopped)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    t.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("source", type=Path, help="a run directory or checkpoint folder")
    s.add_argument("-n", type=int, default=100, help="number of samples")
    s.add_argument("--out", type=Path, help="write a grid PNG here")
    s.add_argument("--npy", type=Path, help="write raw samples (N, C, H, W) here")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_sample)

    b = sub.add_parser("bench", help="training/sampling throughput beside a plain PyTorch loop "
                       "and the machine's matmul rate")
    bench.add_arguments(b)
    b.set_defaults(func=bench.main_from_args)

    p = sub.add_parser("presets", help="list the presets")
    p.set_defaults(func=_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted; files already written are intact", file=sys.stderr)
        return 130
