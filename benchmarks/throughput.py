"""Training throughput of gankit's trainer on `paper-mnist` beside a plain PyTorch loop.

The plain loop is the same model, batch and optimiser as a user typically writes it:
alternating D then G, nn.BCELoss on sigmoid outputs, torch.optim.SGD with momentum, the fake
batch reused for G's step. Both run in this process, interleaved over several rounds; the
medians and their ratio are printed by interleaved.compare (machines here are noisy:
compare ratios, not absolutes).

    python benchmarks/throughput.py [--steps 300] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
from interleaved import compare
from torch import nn

from gankit.api import train
from gankit.config import build_config
from gankit.data.paths import data_root


class PlainMaxout(nn.Module):
    def __init__(self, fan_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.lin = nn.Linear(fan_in, units * pieces)

    def forward(self, x):
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


def plain_loop(images: torch.Tensor, steps: int, batch: int = 100) -> float:
    """Samples per second of a hand-written loop of the same model."""
    g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(),
                      nn.Linear(1200, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Dropout(0.2), PlainMaxout(784, 240, 5), nn.Dropout(0.5),
                      PlainMaxout(240, 240, 5), nn.Dropout(0.5), nn.Linear(240, 1), nn.Sigmoid())
    opt_d = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.5)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.1, momentum=0.5)
    bce = nn.BCELoss()
    flat = images.reshape(len(images), -1)
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    start = time.perf_counter()
    for step in range(steps):
        x = flat[torch.randint(len(flat), (batch,))]
        z = torch.rand(batch, 100) * 2 * math.sqrt(3) - math.sqrt(3)
        fake = g(z)
        opt_d.zero_grad()
        loss_d = 0.5 * (bce(d(x), ones) + bce(d(fake.detach()), zeros))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        if step % 50 == 0:
            _ = (loss_d.item(), loss_g.item())
    return steps * batch / (time.perf_counter() - start)


def gankit_trainer(steps: int, data_dir: Path) -> float:
    """Samples per second of `gankit train --preset paper-mnist`, from its own step timer."""
    cfg = build_config("paper-mnist", sets=[f"data.data_dir={str(data_dir)!r}",
                                            f"train.max_steps={steps}", "train.sample_every=0"])
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
    args = parser.parse_args()
    from gankit.data import load_dataset

    images = load_dataset("mnist", "train", args.data_dir).images
    root = data_root(args.data_dir)
    compare(lambda: plain_loop(images, args.steps), lambda: gankit_trainer(args.steps, root),
            args.rounds, f"paper-mnist, batch 100, {args.steps} steps a round",
            {"steps_per_round": args.steps}, args.json)


if __name__ == "__main__":
    main()
