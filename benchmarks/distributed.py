"""Data-parallel throughput: the same paper-mnist run in 1 and in N processes on this machine.

Each run trains `--steps` steps of the global batch through `gankit train [--nproc N]` and the
figure is the trainer's own samples/s (global samples over training seconds, from
metrics.jsonl), so process start-up is not counted. Rounds alternate 1 and N processes.

    python benchmarks/distributed.py [--nproc 2] [--steps 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gankit.io.metrics_log import read_metrics


def run(nproc: int, steps: int, data_dir: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "gankit", "train", "--preset", "paper-mnist", "--out",
               str(out), "--quiet", "--set", f"train.max_steps={steps}",
               "--set", "train.sample_every=0", "--set", f"train.log_every={steps}"]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        if nproc > 1:
            cmd += ["--nproc", str(nproc)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows = read_metrics(out)
    seconds = max(r.get("time", 0) for r in rows)
    return steps * 100 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    one, many = [], []
    for _ in range(args.rounds):
        one.append(run(1, args.steps, args.data_dir))
        many.append(run(args.nproc, args.steps, args.data_dir))
    a, b = statistics.median(one), statistics.median(many)
    print(f"paper-mnist, global batch 100, median of {args.rounds} rounds x {args.steps} steps")
    print(f"  1 process      : {a:8.0f} samples/s")
    print(f"  {args.nproc} processes    : {b:8.0f} samples/s")
    print(f"  speed-up       : {b / a:.2f}x")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
