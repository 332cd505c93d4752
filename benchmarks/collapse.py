"""Mode collapse vs mode coverage on the 2-D mixtures, over several seeds.

Each setting is a list of config overrides on the ``toy-<dataset>`` preset, trained by the
ordinary Trainer for the same number of G updates; the final G is scored by
gankit.metrics.mode_coverage on 2,500 samples. Writes to --out one JSON per setting (every
run's numbers and their mean +- std over seeds), a samples-over-density plot and a D decision
surface (first seed), and prints a Markdown table of all settings measured there so far.

    python benchmarks/collapse.py --dataset ring8 --seeds 3 --steps 1500 --out docs/figures/collapse
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gankit.config import build_config
from gankit.data.toy import distribution
from gankit.game_figures import save_decision_surface, save_sample_plot
from gankit.metrics.mode_coverage import mode_coverage
from gankit.runs import create_run_dir
from gankit.trainer import Trainer

# name -> (what it tests, overrides). Every setting gets the same number of G updates.
SETTINGS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("non-saturating G loss, simultaneous updates, Adam 5e-4", []),
    "minimax": ("G minimises log(1 - D(G(z))) (Algorithm 1 as printed)",
                ["game.g_loss='minimax'"]),
    "weak-D": ("D with one hidden layer of 4 units", ["model.d_units=[4]"]),
    "strong-D": ("k = 5 D steps per G step (alternating)",
                 ["game.schedule='alternating'", "game.d_steps=5"]),
    "fast-lr": ("Adam lr 5e-3 for both players", ["optim.lr=0.005"]),
    "wide-batch": ("batch 500 (more samples per D and G update)", ["train.batch_size=500"]),
}


def run_one(dataset: str, overrides: list[str], seed: int, steps: int, run_dir: Path
            ) -> tuple[dict, Trainer]:
    cfg = build_config(f"toy-{dataset}", sets=[
        *overrides, f"train.seed={seed}", "train.epochs=0", f"train.max_steps={steps}",
        "train.sample_every=0", "train.checkpoint_every=100000", "train.log_every=100"])
    trainer = Trainer(cfg, create_run_dir(run_dir), progress=False)
    start = time.perf_counter()
    if trainer.fit().stopped_by is not None:
        raise SystemExit("collapse study stopped by a signal")
    seconds = time.perf_counter() - start
    dist = distribution(dataset)
    samples = trainer.g.net.sample(2500, torch.Generator().manual_seed(10_000 + seed))
    cov = mode_coverage(samples, dist.modes, dist.std)
    return {**cov.as_dict(), "seed": seed, "seconds": round(seconds, 1)}, trainer


def summarise(rows: list[dict]) -> dict[str, float]:
    out = {}
    for key in ("modes_covered", "high_quality", "kl_to_uniform"):
        v = np.array([r[key] for r in rows], float)
        out[key] = float(v.mean())
        out[key + "_std"] = float(v.std())
    out["all_modes_runs"] = sum(r["modes_covered"] == r["modes_total"] for r in rows)
    return out


def print_table(out: Path, dataset: str) -> None:
    """The Markdown table of every setting measured so far in ``out``."""
    k = len(distribution(dataset).modes)
    results = {}
    for name in SETTINGS:
        path = out / f"{dataset}-{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    print(f"\n{dataset}: mean +- std over seeds; 2,500 samples per run; a mode counts with "
          f">= {1 / (4 * k):.1%} of samples within 3 std")
    print(f"| setting | what | G updates | seeds | modes covered (of {k}) | runs with all | "
          "high-quality share | KL to uniform |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['what']} | {r['steps']} | {len(r['runs'])} | "
              f"{r['modes_covered']:.1f} +- {r['modes_covered_std']:.1f} | "
              f"{r['all_modes_runs']}/{len(r['runs'])} | {r['high_quality']:.2f} +- "
              f"{r['high_quality_std']:.2f} | {r['kl_to_uniform']:.2f} +- "
              f"{r['kl_to_uniform_std']:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="ring8", choices=["ring8", "grid25"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1500, help="G updates per run")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", type=Path, default=Path("runs/collapse"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--table-only", action="store_true", help="print the table of --out and stop")
    args = p.parse_args()
    if args.table_only:
        print_table(args.out, args.dataset)
        return
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    dist = distribution(args.dataset)
    for name in args.settings:
        what, overrides = SETTINGS[name]
        rows = []
        for seed in range(args.seeds):
            row, trainer = run_one(args.dataset, overrides, seed, args.steps,
                                   args.out / "runs" / f"{args.dataset}-{name}-{seed}")
            rows.append(row)
            print(f"{name:>10} seed {seed}: {row}", flush=True)
            if seed == 0:
                samples = trainer.g.net.sample(2500, torch.Generator().manual_seed(10_000))
                title = f"{name}: {row['modes_covered']}/{row['modes_total']} modes"
                save_sample_plot(samples, dist, args.out / f"{args.dataset}-{name}-samples.png",
                                 title)
                save_decision_surface(trainer.d.net, dist,
                                      args.out / f"{args.dataset}-{name}-D.png", samples, title)
        result = {"what": what, "overrides": overrides, "steps": args.steps, "runs": rows,
                  **summarise(rows)}
        (args.out / f"{args.dataset}-{name}.json").write_text(json.dumps(result, indent=1))
    print_table(args.out, args.dataset)


if __name__ == "__main__":
    main()
