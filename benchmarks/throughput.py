"""Training throughput of gankit's whole trainer on `paper-mnist` beside a plain PyTorch loop.

`gankit bench` measures the step alone (plus FLOPs, matmul rate, batch curve, sampling); this
script runs the full trainer (logging, on-device loss checks) through `gankit.api.train`.

The plain loop is the same model, batch and optimiser as a user typically writes it:
alternating D then G, nn.BCELoss on sigmoid outputs, torch.optim.SGD with momentum, the fake
batch reused for G's step. Both run in this process, interleaved over several rounds; the
medians and their ratio are printed (machines here are noisy: compare ratios, not absolutes).

    python benchmarks/throughput.py [--steps 300] [--rounds 3] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from gankit.api import train
from gankit.bench import plain_loop
from gankit.config import build_config
from gankit.data.paths import data_root


def gankit_trainer(steps: int, data_dir: Path, sets: list[str]) -> float:
    """Samples per second of `gankit train --preset paper-mnist`, from its own step timer."""
    cfg = build_config("paper-mnist", sets=[f"data.data_dir={str(data_dir)!r}",
                                            f"train.max_steps={steps}", "train.sample_every=0",
                                            *sets])
    with tempfile.TemporaryDirectory() as tmp:
        train(config=cfg, out=Path(tmp) / "run", progress=False)
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").open()]
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
    plain, ours = [], []
    for _ in range(args.rounds):
        plain.append(plain_loop(images, args.steps))
        ours.append(gankit_trainer(args.steps, root, args.set))
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "steps_per_round": args.steps, "rounds": args.rounds,
              "plain_samples_per_s": statistics.median(plain),
              "gankit_samples_per_s": statistics.median(ours)}
    result["ratio"] = result["gankit_samples_per_s"] / result["plain_samples_per_s"]
    print(f"paper-mnist, batch 100, {torch.get_num_threads()} threads, median of "
          f"{args.rounds} rounds x {args.steps} steps")
    print(f"  plain PyTorch loop : {result['plain_samples_per_s']:8.0f} samples/s")
    print(f"  gankit trainer     : {result['gankit_samples_per_s']:8.0f} samples/s")
    print(f"  ratio              : {result['ratio']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
