"""Mode collapse vs mode coverage on the 2-D mixtures, over several seeds.

Each setting is a list of config overrides on the ``toy-<dataset>`` preset, trained by the
ordinary Trainer for the same number of G updates; the final G is scored by
gankit.metrics.mode_coverage on 2,500 samples. Writes to --out one JSON per dataset and setting
(every run's numbers and their mean +- std over seeds), one PNG per dataset (each setting's
seed-0 samples over the true density beside D's decision surface), and prints a Markdown table.

    python benchmarks/collapse.py --datasets ring8 --seeds 5 --settings baseline minimax fast-lr
    python benchmarks/collapse.py --quick --out runs/collapse          # 3 seeds, ring8 only
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from gankit.config import build_config
from gankit.data.toy import distribution
from gankit.figures.game import save_sample_and_surface_rows
from gankit.games import make_trainer
from gankit.io.run_dir import create_run_dir
from gankit.metrics.mode_coverage import mode_coverage
from gankit.nets.stabilise import Packed
from gankit.training.trainer import Trainer

_RELU = ["model.g_hidden=[128,128,128]", "model.d_units=[128,128,128]",
         "model.d_activation='relu'", "optim.lr=0.002", "optim.lr_decay=1.0003",
         "train.batch_size=256", "game.schedule='alternating'"]
# name -> (what it tests, overrides). Every setting gets the same number of G updates.
SETTINGS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("non-saturating G loss, simultaneous updates, Adam 5e-4", []),
    "minimax": ("G minimises log(1 - D(G(z))) (Algorithm 1 as printed)",
                ["game.g_loss='minimax'"]),
    "fast-lr": ("Adam lr 5e-3 for both players (10x)", ["optim.lr=0.005"]),
    "weak-D": ("D with one hidden layer of 4 units", ["model.d_units=[4]"]),
    "strong-D": ("k = 5 D steps per G step (alternating)",
                 ["game.schedule='alternating'", "game.d_steps=5"]),
    "lr-decay": ("Adam lr 2e-3, divided by 1.0005 after every update",
                 ["optim.lr=0.002", "optim.lr_decay=1.0005"]),
    "relu-D": ("ReLU D and G 128-128-128, Adam 2e-3 / 1.0003 per update, batch 256, "
               "alternating", ["model.g_hidden=[128,128,128]", "model.d_units=[128,128,128]",
                               "model.d_activation='relu'", "optim.lr=0.002",
                               "optim.lr_decay=1.0003", "train.batch_size=256",
                               "game.schedule='alternating'"]),
    # stabilisers (docs/stabilisers.md) on the relu-D nets
    "rp-r1r2": ("relu-D nets, rpgan loss, R1 = R2 = 0.1 (R3GAN's recipe)",
                [*_RELU, "game.loss='rpgan'", "reg.r1=0.1", "reg.r2=0.1"]),
    "pack4-r1": ("relu-D nets, PacGAN m = 4, R1 = 0.1", [*_RELU, "game.pack=4", "reg.r1=0.1"]),
    "hinge-sn": ("relu-D nets, hinge loss, spectral norm on D",
                 [*_RELU, "game.loss='hinge'", "model.d_spectral_norm=true"]),
    "r1": ("relu-D nets, R1 = 0.1", [*_RELU, "reg.r1=0.1"]),
}
STEPS = {"ring8": 1000, "grid25": 1500}  # G updates per run
SAMPLES = 2500


def run_one(dataset: str, overrides: list[str], seed: int, steps: int, run_dir: Path
            ) -> tuple[dict, Trainer]:
    cfg = build_config(f"toy-{dataset}", sets=[
        *overrides, f"train.seed={seed}", "train.epochs=0", f"train.max_steps={steps}",
        "train.sample_every=0", "train.checkpoint_every=100000", "train.log_every=100",
        "report.html=false"])
    trainer = make_trainer(cfg, create_run_dir(run_dir), progress=False)
    start = time.process_time()
    if trainer.fit().stopped_by is not None:
        raise SystemExit("collapse study stopped by a signal")
    seconds = time.process_time() - start
    dist = distribution(dataset)
    samples = trainer.g.net.sample(SAMPLES, torch.Generator().manual_seed(10_000 + seed))
    cov = mode_coverage(samples, dist.modes, dist.std)
    return {**cov.as_dict(), "seed": seed, "cpu_seconds": round(seconds, 1)}, trainer


def _pointwise(d: torch.nn.Module) -> torch.nn.Module:
    """D as a function of one point: a packed D (game.pack = m) judges m copies of it."""
    if not isinstance(d, Packed):
        return d
    return torch.nn.Sequential(_Copies(d.pack), d)


class _Copies(torch.nn.Module):
    def __init__(self, m: int) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.m, 0)


def summarise(rows: list[dict]) -> dict[str, float]:
    """Mean and std over seeds of each score the rows have."""
    out = {}
    for key in ("modes_covered", "high_quality", "kl_to_uniform", "largest_mode", "parzen",
                "fid", "precision", "recall"):
        if key not in rows[0]:
            continue
        v = np.array([r[key] for r in rows], float)
        out[key] = float(v.mean())
        out[key + "_std"] = float(v.std())
    if "modes_covered" in rows[0]:
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
    print(f"\n{dataset}: mean +- std over seeds; {SAMPLES:,} samples per run; a mode counts with "
          f">= {1 / (4 * k):.1%} of samples within 3 std")
    print(f"| setting | what | G updates | seeds | modes covered (of {k}) | per seed | "
          "runs with all | high-quality share | KL to uniform |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        per_seed = ", ".join(str(row["modes_covered"]) for row in r["runs"])
        print(f"| {name} | {r['what']} | {r['steps']} | {len(r['runs'])} | "
              f"{r['modes_covered']:.1f} +- {r['modes_covered_std']:.1f} | {per_seed} | "
              f"{r['all_modes_runs']}/{len(r['runs'])} | {r['high_quality']:.2f} +- "
              f"{r['high_quality_std']:.2f} | {r['kl_to_uniform']:.2f} +- "
              f"{r['kl_to_uniform_std']:.2f} |")


def study(dataset: str, settings: list[str], seeds: int, steps: int, out: Path) -> None:
    """Every setting over ``seeds`` seeds: JSON per setting, one PNG of the seed-0 runs."""
    dist = distribution(dataset)
    pictures = []
    for name in settings:
        what, overrides = SETTINGS[name]
        rows = []
        for seed in range(seeds):
            row, trainer = run_one(dataset, overrides, seed, steps,
                                   out / "runs" / f"{dataset}-{name}-{seed}")
            rows.append(row)
            print(f"{dataset} {name:>10} seed {seed}: {row}", flush=True)
            if seed == 0:
                samples = trainer.g.net.sample(SAMPLES, torch.Generator().manual_seed(10_000))
                title = f"{name}, seed 0: {row['modes_covered']}/{row['modes_total']} modes"
                pictures.append((title, samples, _pointwise(trainer.d.net)))
        result = {"what": what, "overrides": overrides, "steps": steps, "runs": rows,
                  **summarise(rows)}
        (out / f"{dataset}-{name}.json").write_text(json.dumps(result, indent=1))
    save_sample_and_surface_rows(pictures, dist, out / f"{dataset}-collapse.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(STEPS), choices=list(STEPS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=0, help="G updates per run (0: STEPS)")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", type=Path, default=Path("runs/collapse"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="ring8 only, 3 seeds")
    p.add_argument("--table-only", action="store_true", help="print the table of --out and stop")
    args = p.parse_args()
    if args.quick:
        args.datasets, args.seeds = ["ring8"], 3
    if not args.table_only:
        torch.set_num_threads(args.threads)
        args.out.mkdir(parents=True, exist_ok=True)
        wall = time.perf_counter()
        for dataset in args.datasets:
            study(dataset, args.settings, args.seeds, args.steps or STEPS[dataset], args.out)
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        print(f"\ntotal: {time.perf_counter() - wall:.0f} s wall, "
              f"{cpu.ru_utime + cpu.ru_stime:.0f} s CPU, {args.threads} thread(s)")
    for dataset in args.datasets:
        print_table(args.out, dataset)


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
