"""Training throughput continued from a trained paper-mnist checkpoint, where subnormals appear.

After some epochs the paper's G saturates background pixels of its sigmoid to about 1e-40,
below float32's normal range, and the backward pass carries such subnormal values on; x86
arithmetic on them is many times slower. From-scratch benchmarks (``gankit bench``,
throughput.py) never reach that state. Here the plain PyTorch loop (``gankit.bench.PlainLoop``
on the checkpoint's own networks, subnormals left as they are, as a user runs it) and gankit's
autograd and fused steps, each with ``speed.flush_denormal`` off and on, all continue from the
checkpoint's weights, in alternating chunks within one process (``gankit.bench.race``); the
process-wide flush mode is set around each contestant's chunk.

    python benchmarks/trained_throughput.py RUN_OR_CHECKPOINT [--steps 100] [--rounds 3]
        [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import torch

from gankit.bench import GankitLoop, PlainLoop, race
from gankit.config import merge
from gankit.core.step import subnormals_flushed
from gankit.data import load_dataset
from gankit.io import checkpoint as ckpt
from gankit.nets import build_discriminator, build_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path, tensors, state, cfg = ckpt.load_players(args.checkpoint, "gan", "a paper-mnist run")
    shape = tuple(state["image_shape"])
    g, d = build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)
    ckpt.load_prefixed(g, tensors, "G/", path)
    ckpt.load_prefixed(d, tensors, "D/", path)
    images = load_dataset("mnist", "train", args.data_dir).images
    batch = cfg.train.batch_size

    def flushed(runner: Callable[[int], float], flush: bool) -> Callable[[int], float]:
        def run(steps: int) -> float:
            with subnormals_flushed(flush):
                return runner(steps)
        return run

    def gankit_loop(step: str) -> GankitLoop:
        loop = GankitLoop(merge(cfg, {"speed": {"step": step}}, "benchmark"), images, batch)
        loop.g.net.load_state_dict(g.state_dict())
        loop.d.net.load_state_dict(d.state_dict())
        return loop

    plain_loop = PlainLoop(images, batch, nets=(copy.deepcopy(g), copy.deepcopy(d)))
    contestants = {"plain PyTorch loop": flushed(plain_loop, False)}
    for step in ("autograd", "fused"):
        for flush in (False, True):
            name = f"gankit {step}, flush_denormal={str(flush).lower()}"
            contestants[name] = flushed(gankit_loop(step), flush)
    rates = {name: [args.steps * batch / seconds for seconds in times]
             for name, times in race(contestants, args.steps, args.rounds).items()}
    plain = statistics.median(rates["plain PyTorch loop"])
    print(f"{path} ({state.get('epoch')} epochs, step {state.get('step')}), batch {batch}, "
          f"{args.threads} thread(s), median of {args.rounds} rounds of {args.steps} steps; "
          f"load average {os.getloadavg()[0]:.1f}")
    result = {"checkpoint": str(path), "threads": args.threads, "steps": args.steps,
              "rounds": args.rounds, "torch": torch.__version__, "rates": rates}
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:40s} {median:8.0f} samples/s  {median / plain:5.2f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
