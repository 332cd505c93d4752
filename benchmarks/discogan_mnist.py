"""DiscoGAN vs a one-direction GAN on the MNIST pairs with a known relation (invert, rot90).

Trains each variant for the same number of steps (the discogan-mnist-<relation> preset plus
the --set overrides shared by both), then scores G_AB on the official test digits:

- ``accuracy``: the shipped MNIST classifier (gankit.metrics.classifier) on T^-1(G_AB(x)): the
  digit must survive the mapping (target >= 0.90); ``truth_accuracy`` is the same classifier
  on x itself, the ceiling; ``reverse_accuracy`` reads G_AB(x) as T^-1 instead (rotation
  the other way: a relation the losses cannot tell from T unless D knows upright digits);
- ``mae``: mean |G_AB(x) - T(x)| per pixel, beside ``constant_mae`` (the best constant image)
  and ``identity_mae`` (doing nothing); ``back_mae`` is G_BA's error going back.

Variants: ``discogan`` (both directions, reconstruction) and ``gan`` (G_AB and D_B only, no
reconstruction: the paper's plain GAN baseline). Budgets are process CPU seconds of training.

    python benchmarks/discogan_mnist.py --relation invert --steps 500 --dir runs/dm \\
        --set discogan.depth=2 --set discogan.global_bottleneck=false \\
        --figures docs/figures/discogan/ \\
        --json docs/figures/discogan/discogan-mnist-invert.json
    python benchmarks/discogan_mnist.py --runs discogan=runs/dm/discogan-invert   # score only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from gankit.discogan.game import domains_for
from gankit.discogan.scoring import load_translators, mnist_classifier, score_relation
from gankit.discogan.translate import translate_to_figure

VARIANTS = {  # name -> --set overrides of the discogan-mnist-<relation> preset
    "discogan": [],
    "gan": ['discogan.directions="ab"', "discogan.recon_weight=0"],
}


def train_variant(name: str, relation: str, steps: int, sets: list[str], root: Path,
                  seed: int) -> tuple[Path, float]:
    """One run of ``steps`` updates; returns its directory and the CPU seconds it took."""
    from gankit.api import train

    start = time.process_time()
    run = train(f"discogan-mnist-{relation}", out=root / f"{name}-{relation}", progress=False,
                sets=[*sets, *VARIANTS[name], "train.epochs=0", f"train.max_steps={steps}",
                      f"train.seed={seed}", "train.sample_every=0", "report.html=false"])
    return run.run_dir, time.process_time() - start


def score(name: str, run: Path, n: int, figures: Path | None) -> dict:
    g, cfg = load_translators(run)
    s = score_relation(g, domains_for(cfg, "test"), mnist_classifier(), n)
    row = {"model": name, "run": str(run), "data": cfg.data.name,
           **{k: round(v, 4) if isinstance(v, float) else v
              for k, v in dataclasses.asdict(s).items()}}
    if figures:
        fig = figures / f"{name}-{cfg.data.name}.png"
        fig.unlink(missing_ok=True)
        translate_to_figure(run, "A", fig, n=16)
        row["figure"] = str(fig)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relation", choices=["invert", "rot90"], default="invert")
    parser.add_argument("--steps", type=int, default=400, help="updates per variant")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override the preset for every variant (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=Path("runs/discogan-mnist"))
    parser.add_argument("--runs", nargs="*", default=[], metavar="NAME=RUN_DIR",
                        help="score these runs instead of training")
    parser.add_argument("--figures", type=Path, help="write <name>-<data>.png here")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("-n", type=int, default=10_000, help="test digits to score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    runs = {name: (Path(run), None) for name, run in (r.split("=", 1) for r in args.runs)}
    if not runs:
        runs = {name: train_variant(name, args.relation, args.steps, args.set, args.dir,
                                    args.seed) for name in args.variants}
    for name, (run, cpu) in runs.items():
        row = score(name, run, args.n, args.figures)
        if cpu is not None:
            row |= {"steps": args.steps, "train_cpu_s": round(cpu, 1), "sets": args.set,
                    "seed": args.seed, "threads": torch.get_num_threads()}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
