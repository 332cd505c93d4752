"""Stacked MNIST mode coverage of DCGAN variants trained for a fixed CPU budget, beside real data.

Each variant of the `dcgan-stacked-mnist` preset is trained for ``--minutes`` of process CPU
time (``time.process_time``, data loading included; with ``--threads 1`` that is minutes of
one core whatever else the machine runs), then ``--samples`` samples (26,000 as in VEEGAN and
PacGAN) are scored by `gankit evaluate --metrics stacked-modes`: modes covered of 1,000 and
KL(mode histogram || uniform). The same count on the first ``--samples`` real training images
calibrates it (the classifier's errors make a perfect generator score a little above 0 KL).

    python benchmarks/stacked_mnist.py --out runs/stacked [--minutes 5] [--threads 1]
        [--variants dcgan-64 dcgan-32] [--samples 26000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from table1 import TimeBudget

import gankit
from gankit.data import load_dataset
from gankit.metrics.evaluate import evaluate_checkpoint
from gankit.metrics.features import load_feature_network
from gankit.metrics.stacked_modes import STACKED_SAMPLES, stacked_modes

PRESET = "dcgan-stacked-mnist"
VARIANTS = {  # name -> settings over the preset
    "dcgan-64": [],  # DCGAN's base width 64 (G 128 -> 64 -> 3 channels)
    "dcgan-32": ["model.g_width=32", "model.d_width=32"],  # a quarter of the FLOPs per step
}


def calibration(n: int, data_dir: str | None) -> dict[str, Any]:
    """The count on ``n`` real Stacked MNIST training images."""
    real = load_dataset("stacked_mnist", "train", data_dir).images[:n]
    m = stacked_modes(real, load_feature_network("mnist-classifier"))
    return {"variant": "real data", "modes": m.modes_covered, "kl": m.kl_to_uniform,
            "largest_mode": m.largest_mode, "n_samples": m.n_samples}


def train_variant(name: str, minutes: float, out: Path, seed: int, n_samples: int,
                  data_dir: str | None) -> dict[str, Any]:
    sets = [*VARIANTS[name], f"train.seed={seed}", "train.log_every=5", "train.sample_every=0"]
    if data_dir:
        sets.append(f"data.data_dir={data_dir!r}")
    start, start_wall = time.process_time(), time.perf_counter()
    result = gankit.train(PRESET, out=out / name, sets=sets, progress=False,
                          callbacks=[TimeBudget(minutes * 60)])
    cpu, wall = time.process_time() - start, time.perf_counter() - start_wall
    report, _ = evaluate_checkpoint(out / name, "stacked-modes", n_samples, seed,
                                    progress=False)
    modes, kl = report["results"]
    return {"variant": name, "settings": VARIANTS[name], "step": result.step,
            "epoch": result.epoch, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
            "modes": int(modes["value"]), "kl": kl["value"],
            "largest_mode": modes["params"]["largest_mode"], "n_samples": n_samples,
            "load_avg_1min": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=5.0, help="CPU minutes per variant")
    ap.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS),
                    help="none: the real-data calibration only")
    ap.add_argument("--samples", type=int, default=STACKED_SAMPLES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [calibration(args.samples, args.data_dir)]
    print(f"real data: {rows[0]['modes']} modes, KL {rows[0]['kl']:.4f}, largest mode "
          f"{rows[0]['largest_mode']} of {args.samples} training images", flush=True)
    _write(args, rows)
    for name in args.variants:
        row = train_variant(name, args.minutes, args.out, args.seed, args.samples,
                            args.data_dir)
        rows.append(row)
        print(f"{name}: {args.minutes:g} CPU-min ({row['cpu_s']} s CPU, {row['wall_s']} s "
              f"wall, step {row['step']}, epoch {row['epoch']}): {row['modes']} modes, KL "
              f"{row['kl']:.4f}, largest mode {row['largest_mode']} of {args.samples}; load "
              f"{row['load_avg_1min']:.1f}, {torch.get_num_threads()} thread(s)", flush=True)
        _write(args, rows)


def _write(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """OUT/stacked_mnist.json after each row, so that a stopped run keeps what it measured."""
    summary = {"preset": PRESET, "minutes": args.minutes, "threads": args.threads,
               "seed": args.seed, "torch": torch.__version__, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stacked_mnist.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
