"""``gankit bench``: training, sampling and evaluation throughput beside a plain PyTorch loop
and the machine's measured matrix-multiply rate, as text and JSON.

Everything is measured in one process with interleaved rounds (a plain-loop round, a gankit
round, a matmul probe, repeated) and medians are reported, because shared machines are noisy:
compare the ratios, which see the same load, more than the absolute figures.

    python -m gankit.bench [--rounds 3] [--steps 60] [--batches 50,100,200,500,1000] [--json F]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.config import Config, build_config
from gankit.losses import GENERATOR_LOSSES
from gankit.nets import build_discriminator, build_generator
from gankit.optim import build_optimizer
from gankit.schedules import Player
from gankit.speed import build_step

# ------------------------------------------------------------------ FLOPs, counted by hand


def layer_shapes(cfg: Config, pixels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(fan_in, fan_out) of every linear map of G and of D (maxout pieces included)."""
    m = cfg.model
    g_sizes = [m.noise_dim, *m.g_hidden, pixels]
    d_sizes = [pixels, *m.d_units]
    g = list(zip(g_sizes[:-1], g_sizes[1:], strict=True))
    d = [(i, o * m.d_pieces) for i, o in zip(d_sizes[:-1], d_sizes[1:], strict=True)]
    return g, d + [(d_sizes[-1], 1)]


def flops_per_sample(cfg: Config, pixels: int) -> dict[str, float]:
    """Multiply-adds x 2 per training example of one simultaneous update, by layer sizes.

    ``useful``: what the update needs: G forward; D forward on the real and the fake example;
    D's weight gradients on both; the logit's Jacobian down D's hidden layers once per example;
    its input gradient on the fake example; G's weight gradients and its hidden input gradients.
    ``plain_loop``: what the alternating hand-written loop computes: D forward three times (real,
    detached fake, fake again for G), D weight gradients three times, D input gradients for both
    backward passes; the same G work.
    """
    g, d = layer_shapes(cfg, pixels)
    mac = [i * o for i, o in g]
    dmac = [i * o for i, o in d]
    g_work = sum(mac) + sum(mac) + sum(mac[1:])  # forward, weight grads, input grads (not z)
    d_hidden = sum(dmac[1:])  # input gradients below layer 1
    useful = g_work + 2 * sum(dmac) + 2 * sum(dmac) + 2 * d_hidden + dmac[0]
    plain = g_work + 3 * sum(dmac) + 3 * sum(dmac) + 2 * d_hidden + sum(dmac)
    return {"useful": 2.0 * useful, "plain_loop": 2.0 * plain}


# ------------------------------------------------------------------ the machine's rate


def matmul_rate(shapes: list[tuple[int, int, int]], seconds: float = 0.3) -> float:
    """fp32 GFLOP/s of torch.mm over (m, k, n) shapes, each weighted by its FLOPs."""
    total_flops = total_time = 0.0
    for m, k, n in shapes:
        a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        torch.mm(a, b, out=out)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(shapes):
            torch.mm(a, b, out=out)
            reps += 1
        total_time += time.perf_counter() - start
        total_flops += 2.0 * m * k * n * reps
    return total_flops / total_time / 1e9


def model_gemm_shapes(cfg: Config, pixels: int, batch: int) -> list[tuple[int, int, int]]:
    """The forward products of both models at this batch (D over real and fake together)."""
    g, d = layer_shapes(cfg, pixels)
    return [(batch, i, o) for i, o in g] + [(2 * batch, i, o) for i, o in d if o > 1]


# ------------------------------------------------------------------ the two trainers


class _PlainMaxout(nn.Module):
    def __init__(self, fan_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.lin = nn.Linear(fan_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


def plain_loop(images: torch.Tensor, steps: int, batch: int = 100) -> float:
    """Samples/s of the paper's model as a user writes it: alternating D then G, nn.BCELoss on
    sigmoid outputs, torch.optim.SGD with momentum, the fake batch reused for G's step."""
    g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(),
                      nn.Linear(1200, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Dropout(0.2), _PlainMaxout(784, 240, 5), nn.Dropout(0.5),
                      _PlainMaxout(240, 240, 5), nn.Dropout(0.5), nn.Linear(240, 1), nn.Sigmoid())
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


def players(cfg: Config, shape: tuple[int, int, int]) -> tuple[Player, Player]:
    g = build_generator(cfg.model, shape)
    d = build_discriminator(cfg.model, shape)
    return (Player(g, *build_optimizer(cfg.optim, g.parameters())),
            Player(d, *build_optimizer(cfg.optim, d.parameters())))


def gankit_loop(cfg: Config, images: torch.Tensor, steps: int, batch: int) -> float:
    """Samples/s of gankit's configured step, batches by index into the in-memory tensor."""
    g, d = players(cfg, tuple(images.shape[1:]))
    g_loss = GENERATOR_LOSSES[cfg.game.g_loss]
    step = build_step(cfg, g, d, g_loss)
    step(g, d, [images[:batch]], g_loss)  # first call: buffers (and compilation, if asked)
    order = torch.randint(len(images), (steps, batch))
    start = time.perf_counter()
    for idx in order:
        stats = step(g, d, [images[idx]], g_loss)
    float(stats.d_loss)  # one read-back, as a log line would
    return steps * batch / (time.perf_counter() - start)


def sampling_rate(cfg: Config, shape: tuple[int, int, int], n: int = 2000,
                  batch: int = 500) -> dict[str, float]:
    """Images/s of G (what `gankit sample` runs) and of D's forward in eval mode."""
    g, d = players(cfg, shape)
    g.net.eval()
    d.net.eval()
    with torch.inference_mode():
        start = time.perf_counter()
        for _ in range(n // batch):
            images = g.net(g.net.sample_noise(batch))
        sample = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n // batch):
            d.net(images)
        evaluate = n / (time.perf_counter() - start)
    return {"sample_images_per_s": sample, "discriminate_images_per_s": evaluate}


# ------------------------------------------------------------------ the report


def load_images(data_dir: Path | None) -> tuple[torch.Tensor, str]:
    """MNIST's training images if at hand, else random images of its shape (speed is the same)."""
    from gankit.data import load_dataset
    from gankit.errors import GankitError

    try:
        return load_dataset("mnist", "train", data_dir).images, "mnist"
    except GankitError:
        return torch.rand(10000, 1, 28, 28), "random 28x28 (MNIST not found)"


def run(rounds: int = 3, steps: int = 60, batches: tuple[int, ...] = (50, 100, 200, 500, 1000),
        data_dir: Path | None = None, preset: str = "paper-mnist",
        sets: tuple[str, ...] = ()) -> dict[str, Any]:
    cfg = build_config(preset, sets=list(sets))
    if cfg.speed.threads:  # for both loops, not only gankit's
        torch.set_num_threads(cfg.speed.threads)
    images, source = load_images(data_dir)
    pixels = math.prod(images.shape[1:])
    flops = flops_per_sample(cfg, pixels)
    shapes = model_gemm_shapes(cfg, pixels, cfg.train.batch_size)
    plain, ours, rate, square = [], [], [], []
    bs = cfg.train.batch_size
    for _ in range(rounds):
        plain.append(plain_loop(images, steps, bs))
        ours.append(gankit_loop(cfg, images, steps, bs))
        rate.append(matmul_rate(shapes))
        square.append(matmul_rate([(1024, 1024, 1024)]))
    med = statistics.median
    result: dict[str, Any] = {
        "preset": preset, "data": source, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "batch_size": bs, "rounds": rounds, "steps": steps,
        "useful_mflop_per_sample": flops["useful"] / 1e6,
        "plain_loop_mflop_per_sample": flops["plain_loop"] / 1e6,
        "plain_samples_per_s": med(plain), "gankit_samples_per_s": med(ours),
        "matmul_gflops_model_shapes": med(rate), "matmul_gflops_1024": med(square),
    }
    result["ratio"] = result["gankit_samples_per_s"] / result["plain_samples_per_s"]
    useful = result["gankit_samples_per_s"] * flops["useful"] / 1e9
    result["useful_gflops"] = useful
    result["utilisation_model_shapes"] = useful / result["matmul_gflops_model_shapes"]
    result["utilisation_1024"] = useful / result["matmul_gflops_1024"]
    result["floor_ms_per_step"] = bs * flops["useful"] / 1e9 / med(rate) * 1e3
    curve = []
    for b in batches:
        n_steps = max(3, steps * bs // b)
        p, o = plain_loop(images, n_steps, b), gankit_loop(cfg, images, n_steps, b)
        curve.append({"batch": b, "plain_samples_per_s": p, "gankit_samples_per_s": o,
                      "ratio": o / p})
    result["batch_curve"] = curve
    result |= sampling_rate(cfg, tuple(images.shape[1:]))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['preset']}, batch {r['batch_size']}, {r['threads']} threads, torch {r['torch']}, "
        f"data {r['data']}; median of {r['rounds']} interleaved rounds x {r['steps']} steps",
        f"  useful work       : {r['useful_mflop_per_sample']:8.1f} MFLOP per example "
        f"(plain loop computes {r['plain_loop_mflop_per_sample']:.1f})",
        f"  fp32 matmul rate  : {r['matmul_gflops_model_shapes']:8.1f} GFLOP/s at the model's "
        f"shapes, {r['matmul_gflops_1024']:.1f} at 1024^3",
        f"  floor per step    : {r['floor_ms_per_step']:8.2f} ms at the model-shape rate",
        f"  plain PyTorch loop: {r['plain_samples_per_s']:8.0f} samples/s",
        f"  gankit step       : {r['gankit_samples_per_s']:8.0f} samples/s  "
        f"= {r['ratio']:.2f}x plain, {r['useful_gflops']:.1f} useful GFLOP/s = "
        f"{100 * r['utilisation_model_shapes']:.0f}% of the model-shape rate, "
        f"{100 * r['utilisation_1024']:.0f}% of the 1024^3 rate",
        "  batch  plain/s  gankit/s  ratio",
    ]
    lines += [f"  {c['batch']:5d} {c['plain_samples_per_s']:8.0f} {c['gankit_samples_per_s']:9.0f}"
              f"  {c['ratio']:5.2f}x" for c in r["batch_curve"]]
    lines += [f"  sampling (G forward): {r['sample_images_per_s']:9.0f} images/s",
              f"  evaluation (D forward): {r['discriminate_images_per_s']:7.0f} images/s"]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--steps", type=int, default=60, help="steps per round at batch 100")
    parser.add_argument("--batches", default="50,100,200,500,1000",
                        help="batch sizes of the throughput curve")
    parser.add_argument("--preset", default="paper-mnist")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, help="also write the figures here")


def main_from_args(args: argparse.Namespace) -> int:
    from gankit.errors import GankitError

    try:
        batches = tuple(int(b) for b in args.batches.split(",") if b)
    except ValueError:
        raise GankitError(f"--batches {args.batches!r} must be integers separated by commas"
                          ) from None
    if args.rounds < 1 or args.steps < 1 or not batches or min(batches) < 1:
        raise GankitError("--rounds, --steps and every batch size must be at least 1")
    result = run(args.rounds, args.steps, batches, args.data_dir, args.preset, tuple(args.set))
    print(format_report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m gankit.bench ...`` is ``gankit bench ...``."""
    import sys

    from gankit.cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
