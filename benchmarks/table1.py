"""Table 1 on this machine: train paper-mnist for wall-clock budgets, score each by Parzen.

One run is trained; when its wall-clock training time reaches each budget it is stopped (a
checkpoint is written, as for Ctrl-C), 10,000 samples are scored by the paper's Parzen protocol
on the MNIST test set, and training resumes exactly where it stopped. Evaluation time is not
counted in the budgets. Prints one line per budget and writes RUN/table1.json.

    python benchmarks/table1.py --budgets 10 30 60 --out runs/table1 [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import torch

import gankit
from gankit.data import load_dataset
from gankit.metrics.parzen import parzen_protocol
from gankit.trainer import Callback, Trainer


class WallClockBudget(Callback):
    """Ask the trainer to stop (as SIGTERM does) once ``seconds`` of wall clock have passed.

    Checked at each metrics line (every 5 steps here), so a slow machine overshoots a little;
    the real training wall time is what the table reports.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds
        self.sent = False

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if not self.sent and time.perf_counter() >= self.deadline:
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budgets", type=float, nargs="+", default=[10, 30, 60],
                    help="cumulative wall-clock training minutes at which to evaluate")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    valid = load_dataset("mnist", "valid", args.data_dir).flat()
    test = load_dataset("mnist", "test", args.data_dir).flat()
    rows, spent = [], 0.0
    for minutes in sorted(args.budgets):
        budget = WallClockBudget(minutes * 60 - spent)
        start = time.perf_counter()
        if not rows:
            sets = [f"train.seed={args.seed}", "train.log_every=5"]
            if args.data_dir:
                sets.append(f"data.data_dir={args.data_dir!r}")
            result = gankit.train("paper-mnist", out=args.out, sets=sets, progress=False,
                                  callbacks=[budget])
        else:
            result = gankit.resume(args.out, progress=False, callbacks=[budget])
        spent += time.perf_counter() - start
        samples = gankit.sample(args.out, args.samples, seed=args.seed)
        r = parzen_protocol(samples, valid, test, progress=True)
        row = {"budget_min": minutes, "wall_s": round(spent, 1), "epoch": result.epoch,
               "step": result.step, "parzen_mean": r.mean, "parzen_se": r.se, "sigma": r.sigma,
               "load_avg_1min": os.getloadavg()[0], "torch_threads": torch.get_num_threads()}
        rows.append(row)
        print(f"{minutes:g} min: epoch {result.epoch}, step {result.step}: "
              f"{r.mean:.1f} +- {r.se:.1f} nats (sigma {r.sigma:.4f}); "
              f"load {row['load_avg_1min']:.1f}",
              flush=True)
        (args.out / "table1.json").write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
