"""The ``gankit`` command: parse arguments, call gankit.api, print. No logic of its own."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

import numpy as np

from gankit import api, bench, distributed
from gankit.conditional.cli import add_commands as add_conditional_commands
from gankit.config import preset_names, preset_summary
from gankit.errors import GankitError
from gankit.figures import save_grid
from gankit.metrics.registry import metric_names, names_for_any_data


def _train(args: argparse.Namespace) -> int:
    if args.nproc is not None and "WORLD_SIZE" not in os.environ:
        return distributed.launch(args.nproc, _without_nproc(args.argv))
    if args.resume:
        clashes = [flag for flag, value in (("--preset", args.preset), ("--config", args.config),
                                            ("--out", args.out), ("--seed", args.seed),
                                            ("--data-dir", args.data_dir)) if value]
        if clashes:
            raise GankitError(f"--resume continues a run with its saved config; drop "
                              f"{', '.join(clashes)} (only --epochs, --device and --set "
                              "speed.* may change)")
        result = api.resume(args.resume, epochs=args.epochs, device=args.device,
                            sets=args.set or (), progress=not args.quiet)
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
    if os.environ.get("RANK", "0") != "0":
        return 0  # rank 0 speaks for a data-parallel job
    where = f"checkpoint {result.checkpoint}" if result.checkpoint else "no checkpoint"
    if result.stopped_by is not None:
        name = signal.Signals(result.stopped_by).name
        print(f"gankit: stopped by {name} after step {result.step}; {where} written; continue "
              f"with: gankit train --resume {result.run_dir}", file=sys.stderr)
        return 128 + result.stopped_by
    print(f"trained {result.epoch} epochs ({result.step} steps) in {result.run_dir}; {where}")
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _sample(args: argparse.Namespace) -> int:
    images = api.sample(args.source, args.n, seed=args.seed, device=args.device,
                        labels=None if args.label is None else [args.label])
    if args.out and images.ndim == 2:
        raise GankitError("this generator makes points, not images; write them with --npy "
                          "(or plot them with gankit.game_figures.save_sample_plot)")
    if args.out:
        grid = api.for_display(images, args.source)
        print(f"wrote {save_grid(grid, args.out, scale=max(1, 56 // images.shape[-1]))}")
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, images.numpy())
        print(f"wrote {args.npy} {tuple(images.shape)}")
    if not (args.out or args.npy):
        raise GankitError("nothing to write; give --out grid.png and/or --npy samples.npy")
    return 0


def _translate(args: argparse.Namespace) -> int:
    from gankit.discogan.translate import translate_to_figure

    path, n = translate_to_figure(args.checkpoint, args.source, args.out, args.images, args.n)
    print(f"wrote {path} ({n} images from domain {args.source}: input, translation, "
          "reconstruction)")
    return 0


def _figure1(args: argparse.Namespace) -> int:
    from gankit.figure1 import make_figure1

    sets = list(args.set or []) + ([f"train.seed={args.seed}"] if args.seed is not None else [])
    out = args.out or Path("runs") / f"figure1-{time.strftime('%Y%m%d-%H%M%S')}"
    report = make_figure1(out, sets, every=args.every, progress=not args.quiet)
    print(f"wrote {', '.join(report.files)} and {Path(out) / 'figure1.json'}")
    lo, hi = report.final_region
    print(f"after {report.steps} steps: JSD(p_data || p_g) {report.final_jsd:.4f} nats; total "
          f"variation {report.final_tv:.3f}; |D(x) - 1/2|: max "
          f"{report.final_max_abs_d_minus_half:.3f} over x in [{lo:.2f}, {hi:.2f}] (99% of "
          f"(p_data + p_g)/2), mass-weighted mean {report.final_mean_abs_d_minus_half:.4f}; "
          f"for D* of the final G: max {report.final_max_abs_dstar_minus_half:.3f}; "
          f"E|D - D*| {report.final_mean_abs_d_minus_dstar:.4f}; p_g > 0 on "
          f"[{report.final_g_support[0]:.2f}, {report.final_g_support[1]:.2f}]")
    return 0


def _theory(args: argparse.Namespace) -> int:
    from gankit.theory import LOG4, optimal_d_experiment

    if args.a == 0 or args.steps < 1:
        raise GankitError("need --a != 0 (G must have a density) and --steps >= 1")
    c = optimal_d_experiment(args.a, args.b, args.prior, args.steps, args.seed)
    print(f"p_data = N(0, 1), G: x = {args.a} z + {args.b}, z {args.prior}; D trained alone for "
          f"{args.steps} steps, compared with D* = p_data / (p_data + p_g) at {c.points} points")
    print(f"max |D - D*| = {c.max_abs_error:.4f}   mean |D - D*| = {c.mean_abs_error:.4f}")
    print(f"C(G) = V(D*, G) = {c.criterion:.6f}   -log 4 + 2 JSD = {c.criterion_jsd:.6f}   "
          f"V(D, G) of the trained D = {c.value_trained:.6f}   -log 4 = {-LOG4:.6f}")
    return 0


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


def _presets(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:<16} {preset_summary(name)}")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from gankit.metrics.classifier import train_classifier

    report = train_classifier(args.out, epochs=args.epochs, seed=args.seed,
                              data_dir=args.data_dir, progress=not args.quiet)
    print(f"wrote {report.path}: validation accuracy {report.valid_accuracy:.4f} (epoch "
          f"{report.best_epoch}), test accuracy {report.test_accuracy:.4f}, "
          f"{report.seconds:.0f}s")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gankit.metrics.evaluate import evaluate_checkpoint, format_table

    report, path = evaluate_checkpoint(args.checkpoint, args.metrics, args.samples, args.seed,
                                       args.data_dir, args.out, progress=not args.quiet,
                                       features=args.features, features_path=args.features_path)
    print(f"{report['checkpoint']} (epoch {report['epoch']}, step {report['step']}), "
          f"{report['n_samples']} samples")
    print(format_table(report["results"]))
    print(f"wrote {path}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from gankit import checkpoint as ckpt
    from gankit import paper_figures as pf
    from gankit.data import load_dataset
    from gankit.metrics.evaluate import run_dir_of_checkpoint

    path, _ = ckpt.resolve(args.checkpoint)
    _, state = ckpt.read_checkpoint(path)
    data = state["config"]["data"]
    data_dir = args.data_dir or data.get("data_dir") or None
    train = load_dataset(data["name"], "train", data_dir).images
    test = load_dataset(data["name"], "test", data_dir).images
    g = api.load_generator(path)
    out = args.out or run_dir_of_checkpoint(path) / "figures" / path.name
    print(f"wrote {pf.figure2(g, train, out / 'figure2.png', seed=args.seed)}")
    print(f"wrote {pf.figure3(g, out / 'figure3.png', seed=args.seed)}")
    memo = pf.memorisation(g, train, test, n=args.n_memo, seed=args.seed,
                           progress=not args.quiet)
    print(f"wrote {pf.memorisation_figure(memo, out / 'memorisation.png')}")
    s = memo.summary()
    print(f"median squared distance to the nearest training image: samples "
          f"{s['sample_median']:.2f}, test images {s['test_median']:.2f}")
    return 0


def _average(args: argparse.Namespace) -> int:
    from gankit.averaging import average_generators

    path = average_generators(args.checkpoints, args.out)
    print(f"wrote {path}: the generator averaged over {len(args.checkpoints)} checkpoints; "
          f"score it with `gankit evaluate {args.out}`")
    return 0


def _path(text: str) -> Path:
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} holds a NUL character, which no path can")
    return Path(text)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line like every other gankit error (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split("\n"))
        self.exit(2, f"gankit: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (a new run, or --resume one)")
    t.add_argument("--preset", help="a preset from `gankit presets` (default: paper-mnist)")
    t.add_argument("--config", type=_path, help="a TOML file overriding the preset")
    t.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable; with --resume only speed.*)")
    t.add_argument("--out", type=_path, help="run directory (default: runs/<preset>-<time>)")
    t.add_argument("--epochs", type=int, help="epochs to train (0: until stopped)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--data-dir", type=_path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    t.add_argument("--resume", type=_path, metavar="RUN_DIR", help="continue this run")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel over N processes on this machine (torchrun's agent)")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("source", type=_path, help="a run directory or checkpoint folder")
    s.add_argument("-n", type=int, default=100, help="number of samples")
    s.add_argument("--out", type=_path, help="write a grid PNG here")
    s.add_argument("--npy", type=_path, help="write raw samples (N, C, H, W) here")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--class", dest="label", type=int,
                   help="conditional runs: draw this class (default: column i is class i)")
    s.set_defaults(func=_sample)

    tr = sub.add_parser("translate", help="translate images with a trained DiscoGAN, side by side")
    tr.add_argument("checkpoint", type=Path, help="a DiscoGAN run directory or checkpoint folder")
    tr.add_argument("--from", dest="source", required=True, choices=["A", "B"],
                    help="the domain the images come from")
    tr.add_argument("--images", nargs="+", type=Path, metavar="PATH",
                    help="image files or folders (default: the run's built-in test images)")
    tr.add_argument("--out", type=Path, required=True, help="the figure (PNG) to write")
    tr.add_argument("-n", type=int, default=24, help="at most this many images")
    tr.set_defaults(func=_translate)

    b = sub.add_parser("bench", help="training/sampling throughput beside a plain PyTorch loop "
                       "and the machine's matmul rate")
    bench.add_arguments(b)
    b.set_defaults(func=bench.main_from_args)

    e = sub.add_parser("evaluate", help="score a checkpoint (Parzen, FID, KID, PR, score, modes)")
    e.add_argument("checkpoint", type=Path, help="a run directory or checkpoint folder")
    e.add_argument("--metrics", default=",".join(names_for_any_data()),
                   help=f"comma-separated subset of {','.join(metric_names())} "
                   "(RGB data: fid,kid,pr in Inception space, else a fallback)")
    e.add_argument("--samples", type=int, help="generated samples (default: 10000 as in the "
                   "paper; 26000 with stacked-modes)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--features", default="mnist-classifier",
                   help="feature network name (RGB data: inception)")
    e.add_argument("--features-path", help="weights file for the feature network "
                   "(inception: a local .safetensors, see docs/convolutional.md)")
    e.add_argument("--out", type=Path, help="JSON path (default: RUN/eval/<checkpoint>.json)")
    e.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_evaluate)

    f = sub.add_parser("figures", help="the paper's Figures 2 and 3 and a memorisation check")
    f.add_argument("checkpoint", type=Path, help="a run directory or checkpoint folder")
    f.add_argument("--out", type=Path, help="folder (default: RUN/figures/<checkpoint>/)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--n-memo", type=int, default=1000,
                   help="samples and test images in the memorisation histogram")
    f.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_figures)

    a = sub.add_parser("average", help="one generator averaged over several checkpoints "
                       "(Polyak averaging), to sample and evaluate")
    a.add_argument("checkpoints", type=_path, nargs="+",
                   help="checkpoint folders of one run (e.g. RUN/checkpoints/epoch-0*)")
    a.add_argument("--out", type=_path, required=True,
                   help="new folder; the average is written to OUT/checkpoints/average")
    a.set_defaults(func=_average)

    c = sub.add_parser("train-classifier",
                       help="train the MNIST classifier that defines FID/KID/PR features")
    c.add_argument("--out", type=Path, required=True, help="weights file (.safetensors)")
    c.add_argument("--epochs", type=int, default=8)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_train_classifier)

    f = sub.add_parser("figure1", help="train a 1-D GAN and draw the paper's Figure 1 (+ GIF)")
    f.add_argument("--out", type=Path, help="output folder (default: runs/figure1-<time>)")
    f.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override one value of the figure1 preset (repeatable)")
    f.add_argument("--seed", type=int)
    f.add_argument("--every", type=int, default=20, help="record the game every N steps")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_figure1)

    th = sub.add_parser("theory", help="train D alone against a fixed 1-D G; compare with D*")
    th.add_argument("--a", type=float, default=0.5, help="G's scale: x = a z + b")
    th.add_argument("--b", type=float, default=1.0, help="G's shift")
    th.add_argument("--prior", choices=["gaussian", "uniform"], default="gaussian")
    th.add_argument("--steps", type=int, default=1500)
    th.add_argument("--seed", type=int, default=0)
    th.set_defaults(func=_theory)

    r = sub.add_parser("report", help="write a run's HTML report, or compare several runs")
    r.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", type=Path,
                   help="the HTML file (default: RUN_DIR/report.html, or report.html for several)")
    r.add_argument("--watch", action="store_true",
                   help="rewrite the report whenever the runs change, until Ctrl-C")
    r.add_argument("--interval", type=float, default=30.0,
                   help="seconds between checks with --watch (default 30)")
    r.set_defaults(func=_report)

    p = sub.add_parser("presets", help="list the presets")
    p.set_defaults(func=_presets)
    add_conditional_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return distributed.leave_together(args.func(args))
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted; files already written are intact", file=sys.stderr)
        return 130
