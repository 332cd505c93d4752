"""DiscoGAN's 2-D toy experiment: which mode of B does each mode of A go to?

Trains (with --train) or reads runs of the discogan-toy preset, reads off the mode-to-mode
assignment of G_AB and draws it: A's 8 modes on a circle, coloured; B's 8 modes on a grid;
every translated point in its source mode's colour. A plain one-direction GAN (no
reconstruction) sends several A modes to one B mode; DiscoGAN maps them one to one.

    python benchmarks/discogan_toy.py --train --seeds 0 1 2 --dir runs/toy \
        --figure docs/figures/discogan/discogan-toy.png \
        --json docs/figures/discogan/discogan-toy.json
    python benchmarks/discogan_toy.py --runs discogan=runs/toy/discogan gan=runs/toy/gan
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from gankit.data.paired_domains import TOY_MODES_A, TOY_MODES_B  # noqa: E402
from gankit.discogan.scoring import load_translators, mode_map  # noqa: E402

VARIANTS = {  # name -> --set overrides of the discogan-toy preset
    "discogan": [],
    "gan": ['discogan.directions="ab"', "discogan.recon_weight=0"],
}


def train_all(root: Path, epochs: int, seeds: list[int]) -> dict[str, tuple[Path, float]]:
    """Every variant at every seed; NAME@SEED -> (run directory, training CPU seconds)."""
    from gankit.api import train

    runs = {}
    for seed in seeds:
        for name, sets in VARIANTS.items():
            start = time.process_time()
            result = train("discogan-toy", out=root / f"{name}-seed{seed}", progress=False,
                           sets=[*sets, f"train.epochs={epochs}", f"train.seed={seed}",
                                 f"train.checkpoint_every={epochs}", "train.sample_every=0",
                                 "report.html=false"])
            runs[f"{name}@{seed}"] = (result.run_dir, time.process_time() - start)
    return runs


def summary(rows: list[dict]) -> list[dict]:
    """Mean and spread (min, max, sample std) over seeds, per variant."""
    out = []
    for variant in dict.fromkeys(r["model"].split("@")[0] for r in rows):
        mine = [r for r in rows if r["model"].split("@")[0] == variant]
        row: dict = {"model": variant, "seeds": len(mine)}
        for key in ("distinct_targets", "on_mode", "purity"):
            values = [r[key] for r in mine]
            row[key] = {"mean": round(statistics.fmean(values), 3), "min": min(values),
                        "max": max(values),
                        "std": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0}
        out.append(row)
    return out


def draw(results: dict[str, tuple], figure: Path) -> None:
    """One row per seed: A's points, then each variant's G_AB(A) coloured by source mode."""
    colours = plt.cm.tab10(range(len(TOY_MODES_A)))
    variants = list(dict.fromkeys(k.split("@")[0] for k in results))
    seeds = list(dict.fromkeys(k.split("@")[1] if "@" in k else "" for k in results))
    fig, axes = plt.subplots(len(seeds), len(variants) + 1,
                             figsize=(3.2 * (len(variants) + 1), 3.2 * len(seeds)),
                             squeeze=False)
    for row, seed in zip(axes, seeds, strict=True):
        key = {v: f"{v}@{seed}" if seed else v for v in variants}
        _, points, labels, _ = results[key[variants[0]]]
        row[0].scatter(points[:, 0], points[:, 1], s=2, c=colours[labels])
        row[0].set_title(f"domain A: 8 modes{f' (seed {seed})' if seed else ''}", fontsize=9)
        for ax, name in zip(row[1:], variants, strict=True):
            m, _, labels, mapped = results[key[name]]
            ax.scatter(TOY_MODES_B[:, 0], TOY_MODES_B[:, 1], s=400, facecolors="none",
                       edgecolors="grey")
            ax.scatter(mapped[:, 0], mapped[:, 1], s=2, c=colours[labels])
            ax.set_title(f"{name}: G_AB(A), {m.distinct_targets} of 8 B modes", fontsize=9)
    for ax in axes.flat:
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train both variants first")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--dir", type=Path, default=Path("runs/discogan-toy"))
    parser.add_argument("--runs", nargs="*", default=[], metavar="NAME=RUN_DIR")
    parser.add_argument("--figure", type=Path, default=Path("discogan-toy.png"))
    parser.add_argument("--json", type=Path, help="also write the rows and summary here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = {name: (Path(run), None) for name, run in (r.split("=", 1) for r in args.runs)}
    if args.train:
        runs |= train_all(args.dir, args.epochs, args.seeds)
    results, rows = {}, []
    for name, (run, cpu) in runs.items():
        g, _ = load_translators(run)
        results[name] = mode_map(g["ab"])
        m = results[name][0]
        rows.append({"model": name, "run": str(run), "targets": m.targets,
                     "distinct_targets": m.distinct_targets, "on_mode": round(m.on_mode, 3),
                     "purity": round(m.purity, 3),
                     "train_cpu_s": None if cpu is None else round(cpu, 1)})
        print(json.dumps(rows[-1]))
    summaries = summary(rows)
    for row in summaries:
        print(json.dumps(row))
    draw(results, args.figure)
    print(f"wrote {args.figure}")
    if args.json:
        args.json.write_text(json.dumps({"epochs": args.epochs, "threads": 1, "runs": rows,
                                         "summary": summaries}, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
