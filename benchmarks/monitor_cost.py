"""What the collapse monitor costs: its measure() against the training step, on one thread.

Trains ``--steps`` steps of a preset with the monitor off, then times the monitor's measure()
on the trained G (the first call, which loads the classifier, not counted; the median of 5)
for each sample count, and prints the share of training time it takes at every 250 and 500
steps. docs/game.md chose monitor.collapse_every = -1 (every 250 steps) and 500 samples from
these numbers.

    python benchmarks/monitor_cost.py --preset paper-mnist --steps 300 [--samples 500,1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gankit.config import build_config
from gankit.games import make_trainer
from gankit.training.mode_readers import reader_for
from gankit.training.monitor import CollapseMonitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper-mnist")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--samples", default="500,1000")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = build_config(args.preset, sets=[
        f"train.max_steps={args.steps}", "monitor.collapse_every=0", "report.html=false",
        "train.sample_every=0", "speed.threads=1"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(cfg, Path(tmp), progress=False)
        start = time.perf_counter()
        trainer.fit()
        step = (time.perf_counter() - start) / args.steps
        print(f"{args.preset}: {args.steps} steps, {step * 1000:.1f} ms a step")
        for n in (int(s) for s in args.samples.split(",")):
            monitor = CollapseMonitor(250, n, reader=reader_for(cfg.data))
            monitor.measure(trainer)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                monitor.measure(trainer)
                times.append(time.perf_counter() - start)
            t = statistics.median(times)
            print(f"  {n} samples: measure() {t * 1000:.0f} ms; share of training at every 250 "
                  f"steps {t / (250 * step + t):.2%}, every 500 {t / (500 * step + t):.2%}")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
