"""The timing protocol shared by the throughput benchmarks: a plain PyTorch loop and gankit's
trainer run in one process, interleaved over rounds (so load on this shared machine hits both
alike); their medians and ratio are printed and optionally written as JSON. Each runner returns
training samples per second of one round."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

Runner = Callable[[], float]


def compare(plain: Runner, gankit: Runner, rounds: int, title: str,
            settings: dict[str, Any] | None = None, json_path: Path | None = None
            ) -> dict[str, Any]:
    """Run ``plain`` then ``gankit`` ``rounds`` times; print and return medians and ratio."""
    plain_runs, gankit_runs = [], []
    for _ in range(rounds):
        plain_runs.append(plain())
        gankit_runs.append(gankit())
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              **(settings or {}), "rounds": rounds, "plain_runs": plain_runs,
              "gankit_runs": gankit_runs, "plain_samples_per_s": statistics.median(plain_runs),
              "gankit_samples_per_s": statistics.median(gankit_runs),
              "load_avg_1min": os.getloadavg()[0]}
    result["ratio"] = result["gankit_samples_per_s"] / result["plain_samples_per_s"]
    print(f"{title}, {result['threads']} threads, median of {rounds} rounds; load average "
          f"{result['load_avg_1min']:.1f}")
    print(f"  plain PyTorch loop : {result['plain_samples_per_s']:8.0f} samples/s")
    print(f"  gankit trainer     : {result['gankit_samples_per_s']:8.0f} samples/s")
    print(f"  ratio              : {result['ratio']:.2f}x")
    if json_path:
        json_path.write_text(json.dumps(result, indent=1) + "\n")
    return result
