"""Training throughput continued from a trained paper-mnist checkpoint, where subnormals appear.

After some epochs the paper's G saturates background pixels of its sigmoid to about 1e-40,
below float32's normal range, and the backward pass carries such subnormal values on; x86
arithmetic on them is many times slower. From-scratch benchmarks (``gankit bench``,
throughput.py) never reach that state. Here the plain PyTorch loop (``gankit.bench.PlainLoop``
on the checkpoint's own networks, subnormals left as they are, as a user runs it) and gankit's
configured step (``--step``, ``speed.flush_denormal``) both continue from the checkpoint's
weights, in alternating chunks within one process; the process-wide flush setting is switched
for each contestant.

    python benchmarks/trained_throughput.py RUN_OR_CHECKPOINT [--steps 100] [--rounds 3]
        [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
from pathlib import Path

import torch

from gankit import checkpoint as ckpt
from gankit.bench import GankitLoop, PlainLoop
from gankit.config import merge
from gankit.data import load_dataset
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

    def plain_runner() -> PlainLoop:
        torch.set_flush_denormal(False)
        return PlainLoop(images.reshape(len(images), -1), batch,
                         nets=(copy.deepcopy(g), copy.deepcopy(d)))

    def gankit_runner(step: str, flush: bool) -> GankitLoop:
        torch.set_flush_denormal(flush)
        loop = GankitLoop(merge(cfg, {"speed": {"step": step}}, "benchmark"), images, batch)
        loop.g.net.load_state_dict(g.state_dict())
        loop.d.net.load_state_dict(d.state_dict())
        return loop

    contestants = {"plain PyTorch loop": (plain_runner(), False)}
    for step in ("autograd", "fused"):
        for flush in (False, True):
            name = f"gankit {step}, flush_denormal={str(flush).lower()}"
            contestants[name] = (gankit_runner(step, flush), flush)
    rates: dict[str, list[float]] = {name: [] for name in contestants}
    for r in range(args.rounds):
        for name in (list(contestants) if r % 2 == 0 else list(reversed(contestants))):
            runner, flush = contestants[name]
            torch.set_flush_denormal(flush)
            rates[name].append(args.steps * batch / runner(args.steps))
    torch.set_flush_denormal(False)
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
    main()
