"""The Age-cGAN commands (train-encoder, invert, transfer): parse, call, print."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gankit import agecgan as cond
from gankit.errors import GankitError
from gankit.figures.grid import save_grid


def _classes(text: str | None) -> list[int] | None:
    """'3', '3,5' or 'all' (-1 stands for all classes, resolved against the generator)."""
    if text is None:
        return None
    if text == "all":
        return [-1]
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise GankitError(f"classes must be integers like 3 or 3,5 or 'all', got {text!r}"
                          ) from None


def _fresh(path: Path) -> Path:
    if path.exists():
        raise GankitError(f"{path} already exists; choose another --out or delete it")
    return path


def _train_encoder(args: argparse.Namespace) -> int:
    report = cond.train_run_encoder(args.run, out=args.out, steps=args.steps,
                                    batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                    progress=not args.quiet)
    print(f"encoder trained for {report.steps} steps in {report.seconds:.0f}s: squared z error "
          f"{report.train_loss:.4f} (train), {report.heldout_loss:.4f} (fresh pairs); "
          f"wrote {report.path}")
    return 0


def _invert(args: argparse.Namespace) -> int:
    out = _fresh(args.out)
    y0, z = cond.invert_images(args.run, args.images, _classes(args.source),
                               encoder=args.encoder, space=args.space, steps=args.steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, z=z.numpy(), source=y0.numpy())
    print(f"wrote {out}: z {tuple(z.shape)}, source classes {y0.tolist()}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    out = _fresh(args.out)
    g = cond.load_conditional_generator(args.run)
    to = _classes(args.to)
    assert to is not None
    if to == [-1]:
        to = list(range(g.classes))
    t = cond.transfer_images(args.run, args.images, to, _classes(args.source),
                             encoder=args.encoder, space=args.space, steps=args.steps)
    cols = 3 + len(t.targets)
    save_grid(cond.transfer_rows(t), out, nrow=cols, scale=max(1, 56 // t.original.shape[-1]))
    print(f"wrote {out}: per image, original | G(E(x), y0) | G(z*, y0) | classes "
          f"{t.targets.tolist()}; source classes {t.source.tolist()}; {args.space} distance "
          f"{t.fit.start.mean():.4f} -> {t.fit.end.mean():.4f}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("train-encoder", help="Age-cGAN step 2: train E: x -> z on G's samples")
    e.add_argument("run", type=Path, help="a conditional run directory or checkpoint")
    e.add_argument("--out", type=Path, help="encoder folder (default: RUN/encoder)")
    e.add_argument("--steps", type=int, default=3000)
    e.add_argument("--batch-size", type=int, default=128)
    e.add_argument("--lr", type=float, default=1e-3)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_train_encoder)

    for name, helptext, func in (
            ("invert", "Age-cGAN step 3: latent codes z* of images (writes an .npz)", _invert),
            ("transfer", "Age-cGAN: redraw images as other classes, keeping their style",
             _transfer)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run", type=Path, help="a conditional run directory or checkpoint")
        p.add_argument("images", nargs="+", type=Path,
                       help="PNG/JPEG files or .npy arrays (N, H, W) in [0, 1] or 0..255")
        if name == "transfer":
            p.add_argument("--to", required=True, metavar="CLASS",
                           help="target class(es): 3, 3,5 or all")
        p.add_argument("--from", dest="source", metavar="CLASS",
                       help="the images' class (one, or one per image); default: inferred")
        p.add_argument("--space", choices=["feature", "pixel"], default="feature",
                       help="distance kept small by the optimisation (default: feature)")
        p.add_argument("--steps", type=int, default=300, help="optimisation steps")
        p.add_argument("--encoder", type=Path, help="encoder folder (default: RUN/encoder)")
        p.add_argument("--out", type=Path, required=True,
                       help="the .npz (invert) or PNG (transfer) to write")
        p.set_defaults(func=func)
