"""Commands for a user's own images: ``fid`` (two folders, or a folder and a run, compared in a
feature network's space) and the ``train-classifier --set data.KEY=VALUE`` path (a feature
network trained on any labelled or unlabelled folder)."""

from __future__ import annotations

import argparse
import json
import shlex

from gankit.cli.parsing import path_arg


def train_feature_network(args: argparse.Namespace) -> int:
    """`gankit train-classifier --set ...`: a network for the images the sets name."""
    from gankit.metrics.folder_training import data_config, train_feature_network

    cfg = data_config(args.set, args.data_dir)
    command = " ".join(["gankit train-classifier", *(f"--set {shlex.quote(s)}" for s in args.set),
                        f"--out {shlex.quote(args.out.name)} --epochs {args.epochs} "
                        f"--seed {args.seed}"])
    r = train_feature_network(cfg, args.out, epochs=args.epochs, seed=args.seed,
                              progress=not args.quiet, command=command)
    c, s, _ = r.image_shape
    what = (f"classifier of {len(r.classes)} classes ({', '.join(r.classes[:10])}"
            f"{', ...' if len(r.classes) > 10 else ''}), held-out accuracy {r.held_out:.4f}"
            if r.classes else f"autoencoder, held-out reconstruction mse {r.held_out:.5f}")
    if r.note:
        print(f"gankit: note: {r.note}")
    print(f"wrote {r.path}: {what} (epoch {r.best_epoch}; {r.n_train} images trained, "
          f"{r.n_held_out} held out) at {s}x{s} {'grey' if c == 1 else 'RGB'}, "
          f"{r.seconds:.0f}s; use it with --features-path {r.path}")
    return 0


def _fid(args: argparse.Namespace) -> int:
    from gankit.io.atomic import write_text_atomic
    from gankit.metrics.compare import compare
    from gankit.metrics.evaluate import format_table

    report = compare(args.a, args.b, args.metrics, args.features,
                     str(args.features_path) if args.features_path else None, args.samples,
                     args.seed, progress=not args.quiet)
    net = report["feature_network"]
    print(f"A: {report['a']}\nB: {report['b']}")
    print(f"features: {net['name']} (sha256 {net['sha256'][:12]}); A: "
          f"{report['preprocess']['a']}; B: {report['preprocess']['b']}")
    print(format_table(report["results"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("fid", help="compare two folders of images, or a folder and a run "
                       "(FID, KID, precision/recall in a feature network's space)")
    f.add_argument("a", type=path_arg, help="folder of images or run directory (the reference)")
    f.add_argument("b", type=path_arg, help="folder of images or run directory")
    f.add_argument("--metrics", help="comma-separated subset of fid,kid,pr (default: all)")
    f.add_argument("--features", help="feature network name (default: the file at "
                   "--features-path, else mnist-classifier; inception needs --features-path)")
    f.add_argument("--features-path", type=path_arg,
                   help="weights of a network from `gankit train-classifier`, or Inception's")
    f.add_argument("--samples", type=int, help="samples drawn from a run (default: as many "
                   "as the folder on the other side holds, else 10000)")
    f.add_argument("--seed", type=int, default=0, help="noise seed of a run's samples")
    f.add_argument("--out", type=path_arg, help="write the results as JSON here")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fid)
