"""Training throughput of `dcgan-mnist` in gankit's trainer beside a plain PyTorch loop.

The plain loop is the same DCGAN for 28x28 (G 100 -> 128x7x7 -> 64x14x14 -> 1x28x28, D
mirrored, batch norm, Adam 2e-4 / 0.5, batch 128) as the PyTorch DCGAN example writes it: D on
a real and a detached fake batch, then G on the same fake batch. gankit's alternating schedule
draws fresh noise for G's step (Algorithm 1), i.e. one more G forward per step. Both run in
this process, interleaved over rounds (interleaved.compare prints medians and ratio). ``--channels-
last`` runs both with channels-last tensors (oneDNN's preferred layout on CPU). ``--set`` passes
overrides to gankit's run only (``speed.autocast='"bf16"'``, ``speed.compile=true``);
``--plain-bf16`` runs the plain loop under bf16 autocast too, so that a bf16 gankit is compared
with a bf16 loop.

Before the race it prints the arithmetic: FLOPs per training sample of each loop (counted by
torch.utils.flop_counter over one step), the machine's fp32 and bf16 matmul rates at the
model's largest product shape, and the floor per sample they imply.

    python benchmarks/dcgan_throughput.py [--steps 40] [--rounds 2] [--channels-last]
        [--set speed.autocast='"bf16"'] [--plain-bf16]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from interleaved import compare
from torch import nn

from gankit.bench import bf16_matmul_supported, counted_flops, matmul_rate
from gankit.config import build_config
from gankit.data import load_for_model
from gankit.games import make_trainer
from gankit.io.run_dir import create_run_dir


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


def plain_loop(images: torch.Tensor, steps: int, channels_last: bool, batch: int = 128,
               bf16: bool = False) -> float:
    with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        return _plain_loop(images, steps, channels_last, batch)


def _plain_loop(images: torch.Tensor, steps: int, channels_last: bool, batch: int) -> float:
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


def gankit_trainer(steps: int, channels_last: bool, data_dir: str, sets: list[str]) -> float:
    cfg = build_config("dcgan-mnist", sets=[f"data.data_dir={data_dir!r}",
                                            f"train.max_steps={steps}", "train.sample_every=0",
                                            "train.log_every=10", *sets])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(cfg, create_run_dir(Path(tmp) / "run"), progress=False)
        if channels_last:
            for p in (trainer.g, trainer.d):
                p.net.to(memory_format=torch.channels_last)
            trainer.game.images = trainer.game.images.contiguous(memory_format=torch.channels_last)
        trainer.fit()
        return steps * cfg.train.batch_size / trainer.train_seconds


def flops_per_sample(images: torch.Tensor, data_dir: str) -> dict[str, float]:
    """FLOPs of one training step per real sample: the plain loop and gankit's step."""
    plain = counted_flops(lambda steps: plain_loop(images, steps, False), 128)
    ours = counted_flops(lambda steps: gankit_trainer(steps, False, data_dir, []), 128)
    return {"plain_mflop_per_sample": plain / 1e6, "gankit_mflop_per_sample": ours / 1e6}


# D's largest convolution as a product: (batch * 7 * 7, 64 * 4 * 4, 128)
D_LARGEST_GEMM = (128 * 49, 64 * 16, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="an override of gankit's run only")
    parser.add_argument("--plain-bf16", action="store_true",
                        help="run the plain loop under bf16 autocast")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from gankit.data.paths import data_root

    data_dir = str(data_root(args.data_dir or None))
    cfg = build_config("dcgan-mnist", sets=[f"data.data_dir={data_dir!r}"])
    images = load_for_model(cfg.data, "tanh").images
    arithmetic = flops_per_sample(images, data_dir)
    arithmetic["matmul_gflops_fp32"] = matmul_rate([D_LARGEST_GEMM], 1.0)
    if bf16_matmul_supported():
        arithmetic["matmul_gflops_bf16"] = matmul_rate([D_LARGEST_GEMM], 1.0, torch.bfloat16)
    print(f"work per training sample: plain loop {arithmetic['plain_mflop_per_sample']:.1f} "
          f"MFLOP, gankit {arithmetic['gankit_mflop_per_sample']:.1f} (fresh noise for G's step)")
    for kind in ("fp32", "bf16"):
        rate = arithmetic.get(f"matmul_gflops_{kind}")
        if rate:
            print(f"{kind} matmul rate: {rate:.1f} GFLOP/s; floor for the plain loop's work: "
                  f"{rate * 1e3 / arithmetic['plain_mflop_per_sample']:.0f} samples/s")
    result = compare(
        lambda: plain_loop(images, args.steps, args.channels_last, bf16=args.plain_bf16),
        lambda: gankit_trainer(args.steps, args.channels_last, data_dir, args.set),
        args.rounds, f"dcgan-mnist, batch 128, {args.steps} steps a round, channels-last "
        f"{args.channels_last}, gankit --set {args.set}, plain bf16 {args.plain_bf16}",
        {"steps_per_round": args.steps, "channels_last": args.channels_last, "sets": args.set,
         "plain_bf16": args.plain_bf16, **arithmetic})
    for who in ("plain", "gankit"):
        useful = result[f"{who}_samples_per_s"] * arithmetic["plain_mflop_per_sample"] / 1e3
        print(f"  {who}: {useful:.1f} GFLOP/s of the plain loop's work = "
              f"{100 * useful / arithmetic['matmul_gflops_fp32']:.0f}% of the fp32 matmul rate")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
