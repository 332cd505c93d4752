"""DiscoGAN's 2-D toy experiment: which mode of B does each mode of A go to?

Trains (with --train) or reads runs of the discogan-toy preset, reads off the mode-to-mode
assignment of G_AB and draws it: A's 8 modes on a circle, coloured; B's 8 modes on a grid;
every translated point in its source mode's colour. A plain one-direction GAN (no
reconstruction) sends several A modes to one B mode; DiscoGAN maps them one to one.

    python benchmarks/discogan_toy.py --train --epochs 20 --dir runs/toy --figure docs/toy.png
    python benchmarks/discogan_toy.py --runs discogan=runs/toy/discogan gan=runs/toy/gan
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from gankit.data.paired_domains import TOY_MODES_A, TOY_MODES_B  # noqa: E402
from gankit.discogan.scoring import load_translators, mode_map  # noqa: E402

VARIANTS = {  # name -> --set overrides of the discogan-toy preset
    "discogan": [],
    "gan": ["discogan.directions=ab", "discogan.recon_weight=0"],
}


def train_all(root: Path, epochs: int, seed: int) -> dict[str, Path]:
    from gankit.api import train

    runs = {}
    for name, sets in VARIANTS.items():
        result = train("discogan-toy", out=root / name, progress=False,
                       sets=[*sets, f"train.epochs={epochs}", f"train.seed={seed}",
                             f"train.checkpoint_every={epochs}"])
        runs[name] = result.run_dir
    return runs


def draw(results: dict[str, tuple], figure: Path) -> None:
    colours = plt.cm.tab10(range(len(TOY_MODES_A)))
    fig, axes = plt.subplots(1, len(results) + 1, figsize=(4 * (len(results) + 1), 4))
    _, points, labels, _ = next(iter(results.values()))
    axes[0].scatter(points[:, 0], points[:, 1], s=2, c=colours[labels])
    axes[0].set_title("domain A: 8 modes")
    for ax, (name, (m, _, labels, mapped)) in zip(axes[1:], results.items(), strict=True):
        ax.scatter(TOY_MODES_B[:, 0], TOY_MODES_B[:, 1], s=400, facecolors="none",
                   edgecolors="grey")
        ax.scatter(mapped[:, 0], mapped[:, 1], s=2, c=colours[labels])
        ax.set_title(f"{name}: G_AB(A), {m.distinct_targets} of 8 B modes hit")
    for ax in axes:
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.set_aspect("equal")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train both variants first")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=Path("runs/discogan-toy"))
    parser.add_argument("--runs", nargs="*", default=[], metavar="NAME=RUN_DIR")
    parser.add_argument("--figure", type=Path, default=Path("discogan-toy.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = dict(r.split("=", 1) for r in args.runs)
    if args.train:
        runs |= train_all(args.dir, args.epochs, args.seed)
    results = {}
    for name, run in runs.items():
        g, _ = load_translators(run)
        results[name] = mode_map(g["ab"])
        m = results[name][0]
        print(json.dumps({"model": name, "run": str(run), "targets": m.targets,
                          "distinct_targets": m.distinct_targets,
                          "on_mode": round(m.on_mode, 3), "purity": round(m.purity, 3)}))
    draw(results, args.figure)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
