"""Training throughput of gankit's whole trainer on `paper-mnist` beside a plain PyTorch loop.

`gankit bench` measures the step alone (plus FLOPs, matmul rate, batch curve, sampling); this
script runs the full trainer (logging, on-device loss checks) through `gankit.api.train`.

The plain loop (`gankit.bench.plain_loop`) is the same model, batch and optimiser as a user
typically writes it: alternating D then G, nn.BCELoss on sigmoid outputs, torch.optim.SGD with
momentum, the fake batch reused for G's step. Both run in this process, interleaved over several
rounds; the medians and their ratio are printed by interleaved.compare (machines here are
noisy: compare ratios, not absolutes).

    python benchmarks/throughput.py [--steps 300] [--rounds 3] [--threads N] [--set K=V]
                                    [--json out.json]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from interleaved import compare

from gankit.api import train
from gankit.bench import plain_loop
from gankit.config import build_config
from gankit.data.paths import data_root
from gankit.io.metrics_log import read_metrics


def gankit_trainer(steps: int, data_dir: Path, sets: list[str]) -> float:
    """Samples per second of `gankit train --preset paper-mnist`, from its own step timer."""
    cfg = build_config("paper-mnist", sets=[f"data.data_dir={str(data_dir)!r}",
                                            f"train.max_steps={steps}", "train.sample_every=0",
                                            *sets])
    with tempfile.TemporaryDirectory() as tmp:
        train(config=cfg, out=Path(tmp) / "run", progress=False)
        rows = read_metrics(Path(tmp) / "run")
    seconds = max(r.get("time", 0) for r in rows)
    return steps * cfg.train.batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--set", action="append", default=[], help="config overrides for gankit")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from gankit.data import load_dataset

    images = load_dataset("mnist", "train", args.data_dir).images
    root = data_root(args.data_dir)
    compare(lambda: plain_loop(images, args.steps),
            lambda: gankit_trainer(args.steps, root, args.set), args.rounds,
            f"paper-mnist, batch 100, {args.steps} steps a round",
            {"steps_per_round": args.steps, "sets": args.set}, args.json)


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
