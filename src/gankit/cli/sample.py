"""``gankit sample`` and ``gankit translate``: images out of a trained generator."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gankit import api
from gankit.cli.parsing import path_arg
from gankit.errors import GankitError
from gankit.figures.grid import save_grid

RAW_HELP = "runs with train.ema: sample G itself, not its moving average (the default)"


def _sample(args: argparse.Namespace) -> int:
    images = api.sample(args.source, args.n, seed=args.seed, device=args.device,
                        labels=None if args.label is None else [args.label], raw=args.raw)
    if args.out and images.ndim == 2:  # points of a 1-D or 2-D game: plotted, not a grid
        print(f"wrote {api.save_points(images, args.source, args.out)}")
    elif args.out:
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

    path, n = translate_to_figure(args.checkpoint, args.source, args.out, args.images, args.n,
                                  raw=args.raw)
    print(f"wrote {path} ({n} images from domain {args.source}: input, translation, "
          "reconstruction)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("source", type=path_arg, help="a run directory or checkpoint folder")
    s.add_argument("-n", type=int, default=100, help="number of samples")
    s.add_argument("--out", type=path_arg, help="write a grid PNG here (1-D and 2-D runs: "
                   "the samples plotted over the true density)")
    s.add_argument("--npy", type=path_arg, help="write raw samples (N, C, H, W; points: N, D) "
                   "here")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--class", dest="label", type=int,
                   help="conditional runs: draw this class (default: column i is class i)")
    s.add_argument("--raw", action="store_true", help=RAW_HELP)
    s.set_defaults(func=_sample)

    tr = sub.add_parser("translate", help="translate images with a trained DiscoGAN, side by side")
    tr.add_argument("checkpoint", type=Path, help="a DiscoGAN run directory or checkpoint folder")
    tr.add_argument("--from", dest="source", required=True, choices=["A", "B"],
                    help="the domain the images come from")
    tr.add_argument("--images", nargs="+", type=Path, metavar="PATH",
                    help="image files or folders (default: the run's built-in test images)")
    tr.add_argument("--out", type=Path, required=True, help="the figure (PNG) to write")
    tr.add_argument("-n", type=int, default=24, help="at most this many images")
    tr.add_argument("--raw", action="store_true", help=RAW_HELP)
    tr.set_defaults(func=_translate)
