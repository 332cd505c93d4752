"""The paper's 1-D experiments: ``gankit figure1`` (Figure 1 from a trained 1-D GAN) and
``gankit theory`` (D trained alone against a fixed G, compared with D*)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gankit.errors import GankitError


def _figure1(args: argparse.Namespace) -> int:
    from gankit.paper.figure1 import make_figure1

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
    from gankit.paper.theory import LOG4, optimal_d_experiment

    if args.a == 0 or args.steps < 1:
        raise GankitError("need --a != 0 (G must have a density) and --steps >= 1")
    c = optimal_d_experiment(args.a, args.b, args.prior, args.steps, args.seed)
    print(f"p_data = N(0, 1), G: x = {args.a} z + {args.b}, z {args.prior}; D trained alone for "
          f"{args.steps} steps, compared with D* = p_data / (p_data + p_g) at {c.points} points")
    print(f"max |D - D*| = {c.max_abs_error:.4f}   mean |D - D*| = {c.mean_abs_error:.4f}")
    print(f"C(G) = V(D*, G) = {c.criterion:.6f}   -log 4 + 2 JSD = {c.criterion_jsd:.6f}   "
          f"V(D, G) of the trained D = {c.value_trained:.6f}   -log 4 = {-LOG4:.6f}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
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
