"""``gankit train``: a new run, a resumed one, or a data-parallel job over --nproc processes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from gankit import api, distributed
from gankit.cli.parsing import path_arg
from gankit.config import Config, build_config, load_config_toml
from gankit.errors import GankitError
from gankit.io.resume import run_dir_of
from gankit.io.run_dir import CONFIG
from gankit.training.trainer import TrainResult


def _train(args: argparse.Namespace) -> int:
    if args.resume and args.out and \
            Path(args.out).resolve() != run_dir_of(args.resume).resolve():
        raise GankitError(f"--out {args.out} is not the run --resume {args.resume} continues; "
                          "drop --out, or give the same folder")
    if args.nproc is not None and "WORLD_SIZE" not in os.environ:
        api.check(_planned_config(args), args.nproc)  # one line here, not one per worker
        return distributed.launch(args.nproc, _without_nproc(args.argv))
    if args.resume:
        result = api.resume(args.resume, epochs=args.epochs, device=args.device,
                            sets=_config_sets(args), preset=args.preset,
                            config_file=args.config, progress=not args.quiet)
    else:
        result = api.train(_preset(args), out=args.out, config_file=args.config,
                           sets=_new_run_sets(args), progress=not args.quiet)
    return _report(result)


def _report(result: TrainResult) -> int:
    if os.environ.get("RANK", "0") != "0":
        return 0  # rank 0 speaks for a data-parallel job
    if result.stopped_by is not None:
        print(f"stopped after {result.epoch} epochs ({result.step} steps) in {result.run_dir}")
    else:
        print(f"trained {result.epoch} epochs ({result.step} steps) in {result.run_dir}")
    print("\n".join(_where(result)))
    if result.stopped_by is not None:
        name = signal.Signals(result.stopped_by).name
        print(f"gankit: stopped by {name} after step {result.step}; continue with: gankit train "
              f"--resume {result.run_dir}", file=sys.stderr)
        return 128 + result.stopped_by
    return 0


def _where(result: TrainResult) -> list[str]:
    """The run's last lines: where its pictures, report and checkpoint are, and what next."""
    report = result.run_dir / "report.html"
    lines = [f"  samples:    {result.samples or 'none drawn'}",
             *([f"  report:     {report}"] if report.exists() else []),
             f"  checkpoint: {result.checkpoint or 'none written'}"]
    if result.checkpoint:
        lines.append(f"  evaluate:   {_evaluate_command(result.run_dir, result.checkpoint)}")
    return lines


def _evaluate_command(run_dir: Path, checkpoint: Path) -> str:
    """The command that scores this run: what its samples are decides which metrics apply."""
    if load_config_toml(run_dir / CONFIG).game.name == "discogan":
        return f"gankit translate {run_dir} --from A --out {run_dir / 'translation.png'}"
    shape = json.loads((checkpoint / "state.json").read_text())["image_shape"]
    if shape == [1, 28, 28] or shape[0] == 3:  # MNIST's classifier or Inception reads them
        return f"gankit evaluate {run_dir}"
    return f"gankit evaluate {run_dir} --metrics parzen"  # points, or images of another size


def _preset(args: argparse.Namespace) -> str | None:
    return args.preset or (None if args.config else "paper-mnist")


def _config_sets(args: argparse.Namespace) -> list[str]:
    """--set, --seed and --data-dir as assignments, in the order they apply."""
    sets = list(args.set or [])
    if args.seed is not None:
        sets.append(f"train.seed={args.seed}")
    if args.data_dir:
        sets.append(f"data.data_dir={str(args.data_dir)!r}")
    return sets


def _new_run_sets(args: argparse.Namespace) -> list[str]:
    return _config_sets(args) + [f"train.{k}={v!r}" if isinstance(v, str) else f"train.{k}={v}"
                                 for k, v in (("epochs", args.epochs), ("device", args.device))
                                 if v is not None]


def _planned_config(args: argparse.Namespace) -> Config:
    """The config the command's workers would train, built (and checked) before they start."""
    if args.resume:
        return api.resumed_config(args.resume, epochs=args.epochs, device=args.device,
                                  sets=_config_sets(args), preset=args.preset,
                                  config_file=args.config)
    return build_config(_preset(args), args.config, _new_run_sets(args))


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line each worker process gets: the same, less --nproc and its value."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def add_commands(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a GAN (a new run, or --resume one)")
    t.add_argument("--preset", help="a preset from `gankit presets` (default: paper-mnist)")
    t.add_argument("--config", type=path_arg, help="a TOML file overriding the preset")
    t.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable; with --resume, values "
                   "other than speed.* must equal the run's)")
    t.add_argument("--out", type=path_arg, help="run directory (default: runs/<preset>-<time>)")
    t.add_argument("--epochs", type=int, help="epochs to train (0: until stopped)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--data-dir", type=path_arg,
                   help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    t.add_argument("--resume", type=path_arg, metavar="RUN_DIR",
                   help="continue this run; the command that started it may be repeated")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel over N processes on this machine (torchrun's agent)")
    t.set_defaults(func=_train)
