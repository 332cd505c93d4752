"""Commands that read trained checkpoints: ``evaluate`` (scores), ``figures`` (the paper's
Figures 2 and 3, memorisation), ``average`` (Polyak) and ``train-classifier`` (the feature
network the scores use)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit import api
from gankit.cli.parsing import path_arg
from gankit.cli.sample import RAW_HELP
from gankit.metrics.registry import metric_names, names_for_any_data

GENERATORS = {"ema": "the EMA of G (train.ema)", "raw": "G"}


def _evaluate(args: argparse.Namespace) -> int:
    from gankit.metrics.evaluate import evaluate_checkpoint, format_table

    report, path = evaluate_checkpoint(args.checkpoint, args.metrics, args.samples, args.seed,
                                       args.data_dir, args.out, progress=not args.quiet,
                                       features=args.features, features_path=args.features_path,
                                       raw=args.raw)
    print(f"{report['checkpoint']} (epoch {report['epoch']}, step {report['step']}), "
          f"{report['n_samples']} samples of {GENERATORS[report['generator']]}")
    print(format_table(report["results"]))
    print(f"wrote {path}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from gankit.data import load_dataset
    from gankit.io import checkpoint as ckpt
    from gankit.metrics.evaluate import run_dir_of_checkpoint
    from gankit.paper import figures as pf

    path, _ = ckpt.resolve(args.checkpoint)
    _, state = ckpt.read_checkpoint(path)
    data = state["config"]["data"]
    data_dir = args.data_dir or data.get("data_dir") or None
    train = load_dataset(data["name"], "train", data_dir).images
    test = load_dataset(data["name"], "test", data_dir).images
    g = api.load_generator(path, raw=args.raw)
    name = path.name + ("-raw" if args.raw else "")
    out = args.out or run_dir_of_checkpoint(path) / "figures" / name
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


def _train_classifier(args: argparse.Namespace) -> int:
    from gankit.metrics.classifier import train_classifier

    if args.set:  # a network for the user's own images: gankit.cli.fid
        from gankit.cli.fid import train_feature_network
        return train_feature_network(args)

    report = train_classifier(args.out, epochs=args.epochs, seed=args.seed,
                              data_dir=args.data_dir, progress=not args.quiet)
    print(f"wrote {report.path}: validation accuracy {report.valid_accuracy:.4f} (epoch "
          f"{report.best_epoch}), test accuracy {report.test_accuracy:.4f}, "
          f"{report.seconds:.0f}s")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
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
    e.add_argument("--raw", action="store_true", help=RAW_HELP + "; writes <checkpoint>-raw.json")
    e.set_defaults(func=_evaluate)


def add_commands(sub: argparse._SubParsersAction) -> None:
    _add_evaluate(sub)

    f = sub.add_parser("figures", help="the paper's Figures 2 and 3 and a memorisation check")
    f.add_argument("checkpoint", type=Path, help="a run directory or checkpoint folder")
    f.add_argument("--out", type=Path, help="folder (default: RUN/figures/<checkpoint>/)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--n-memo", type=int, default=1000,
                   help="samples and test images in the memorisation histogram")
    f.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.add_argument("--raw", action="store_true", help=RAW_HELP + "; writes to <checkpoint>-raw/")
    f.set_defaults(func=_figures)

    a = sub.add_parser("average", help="one generator averaged over several checkpoints "
                       "(Polyak averaging), to sample and evaluate")
    a.add_argument("checkpoints", type=path_arg, nargs="+",
                   help="checkpoint folders of one run (e.g. RUN/checkpoints/epoch-0*)")
    a.add_argument("--out", type=path_arg, required=True,
                   help="new folder; the average is written to OUT/checkpoints/average")
    a.set_defaults(func=_average)

    c = sub.add_parser("train-classifier",
                       help="train the MNIST classifier that defines FID/KID/PR features")
    c.add_argument("--out", type=Path, required=True, help="weights file (.safetensors)")
    c.add_argument("--epochs", type=int, default=8)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--data-dir", type=Path, help="folder holding mnist/ (else $GANKIT_DATA_DIR)")
    c.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE",
                   help="train on other images instead, e.g. --set data.name='\"folder\"' "
                   "--set data.path=DIR (docs/evaluation.md, 'Your own images')")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_train_classifier)
