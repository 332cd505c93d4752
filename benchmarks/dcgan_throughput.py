"""Training throughput of `dcgan-mnist` in gankit's trainer beside a plain PyTorch loop.

The plain loop is the same DCGAN for 28x28 (G 100 -> 128x7x7 -> 64x14x14 -> 1x28x28, D
mirrored, batch norm, Adam 2e-4 / 0.5, batch 128) as the PyTorch DCGAN example writes it: D on
a real and a detached fake batch, then G on the same fake batch. gankit's alternating schedule
draws fresh noise for G's step (Algorithm 1), i.e. one more G forward per step. Both run in
this process, interleaved over rounds (interleaved.compare prints medians and ratio). ``--channels-
last`` runs both with channels-last tensors (oneDNN's preferred layout on CPU).

    python benchmarks/dcgan_throughput.py [--steps 40] [--rounds 2] [--channels-last]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from interleaved import compare
from torch import nn

from gankit.config import build_config
from gankit.data import load_for_model
from gankit.runs import create_run_dir
from gankit.trainer import Trainer


def plain_models() -> tuple[nn.Module, nn.Module]:
    g = nn.Sequential(
        nn.ConvTranspose2d(100, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
        nn.Conv2d(128, 1, 7, 1, 0))
    for m in (*g.modules(), *d.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
    return g, d


def plain_loop(images: torch.Tensor, steps: int, channels_last: bool, batch: int = 128
               ) -> float:
    g, d = plain_models()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(memory_format=fmt), d.to(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    start = time.perf_counter()
    for step in range(steps):
        x = images[torch.randint(len(images), (batch,))].contiguous(memory_format=fmt)
        fake = g(torch.randn(batch, 100, 1, 1))
        opt_d.zero_grad()
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(d(x).view(-1), ones)
                        + F.binary_cross_entropy_with_logits(d(fake.detach()).view(-1), zeros))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = F.binary_cross_entropy_with_logits(d(fake).view(-1), ones)
        loss_g.backward()
        opt_g.step()
        if step % 10 == 0:
            _ = (loss_d.item(), loss_g.item())
    return steps * batch / (time.perf_counter() - start)


def gankit_trainer(steps: int, channels_last: bool, data_dir: str) -> float:
    cfg = build_config("dcgan-mnist", sets=[f"data.data_dir={data_dir!r}",
                                            f"train.max_steps={steps}", "train.sample_every=0",
                                            "train.log_every=10"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, create_run_dir(Path(tmp) / "run"), progress=False)
        if channels_last:
            for p in (trainer.g, trainer.d):
                p.net.to(memory_format=torch.channels_last)
            trainer.images = trainer.images.contiguous(memory_format=torch.channels_last)
        trainer.fit()
        return steps * cfg.train.batch_size / trainer.train_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from gankit.data.paths import data_root

    data_dir = str(data_root(args.data_dir or None))
    cfg = build_config("dcgan-mnist", sets=[f"data.data_dir={data_dir!r}"])
    images = load_for_model(cfg.data, "tanh").images
    compare(lambda: plain_loop(images, args.steps, args.channels_last),
            lambda: gankit_trainer(args.steps, args.channels_last, data_dir), args.rounds,
            f"dcgan-mnist, batch 128, {args.steps} steps a round, channels-last "
            f"{args.channels_last}", {"steps_per_round": args.steps,
                                      "channels_last": args.channels_last}, args.json)


if __name__ == "__main__":
    main()
