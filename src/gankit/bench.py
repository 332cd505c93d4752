"""``gankit bench``: training, sampling and evaluation throughput beside a plain PyTorch loop
and the machine's measured matrix-multiply rate, as text and JSON.

Everything is measured in one process, in short alternating chunks (plain loop, gankit, matmul
probes, then the reverse order, ...), because shared machines are noisy: compare the ratios,
which see the same load, more than the absolute figures.

Models: the paper's MNIST MLP (``paper-mnist``; FLOPs counted by hand from the layer sizes)
and the DCGANs (``model.arch = "dcgan"``, e.g. ``dcgan-mnist``; FLOPs counted by
torch.utils.flop_counter over one step of each loop, the matmul probe at the GEMM shapes of
their convolutions). The plain loop is the same model as a user trains it by hand.

    python -m gankit.bench [--preset dcgan-mnist] [--rounds 6] [--steps 120]
        [--batches 50,100,200,500,1000] [--json F]
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
from gankit.core.game import Batch
from gankit.core.losses import GENERATOR_LOSSES
from gankit.core.objective import GanObjective
from gankit.core.optim import build_optimizer
from gankit.core.players import Player
from gankit.core.step import build_step
from gankit.nets import build_discriminator, build_generator

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


# ------------------------------------------------------------------ the contestants
# Each is built once, then called with a number of steps and returns the seconds taken;
# ``race`` calls them in short alternating chunks so that every one sees the same load.


def bf16_matmul_supported() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX), as oneDNN sees it.

    Without it torch emulates bf16 products and autocast only slows training down.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class MatmulProbe:
    """torch.mm over (m, k, n) shapes (fp32 unless told): the machine's rate for them."""

    def __init__(self, shapes: list[tuple[int, int, int]],
                 dtype: torch.dtype = torch.float32) -> None:
        self.mats = [(torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype),
                      torch.empty(m, n, dtype=dtype)) for m, k, n in shapes]
        self.flops = sum(2.0 * m * k * n for m, k, n in shapes)
        self(1)

    def __call__(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            for a, b, out in self.mats:
                torch.mm(a, b, out=out)
        return time.perf_counter() - start


def matmul_rate(shapes: list[tuple[int, int, int]], seconds: float = 0.3,
                dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of torch.mm over (m, k, n) shapes (fp32 unless told), weighted by their FLOPs."""
    probe, steps, spent = MatmulProbe(shapes, dtype), 0, 0.0
    while spent < seconds:
        spent += probe(1)
        steps += 1
    return probe.flops * steps / spent / 1e9


def model_gemm_shapes(cfg: Config, pixels: int, batch: int) -> list[tuple[int, int, int]]:
    """The forward products of both models at this batch (D over real and fake together)."""
    g, d = layer_shapes(cfg, pixels)
    return [(batch, i, o) for i, o in g] + [(2 * batch, i, o) for i, o in d if o > 1]


class _PlainMaxout(nn.Module):
    def __init__(self, fan_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.lin = nn.Linear(fan_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


class _Column(nn.Module):
    """(B,) logits as the (B, 1) column nn.BCELoss is given in the plain loop."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, 1)


class PlainLoop:
    """The paper's model as a user writes it: alternating D then G, nn.BCELoss on sigmoid
    outputs, torch.optim.SGD with momentum, the fake batch reused for G's step."""

    def __init__(self, images: torch.Tensor, batch: int = 100,
                 nets: tuple[nn.Module, nn.Module] | None = None) -> None:
        """``nets``: a trained (G, D logit) pair to continue from instead of fresh networks."""
        if nets is not None:
            self.g, self.d = nets[0], nn.Sequential(nets[1], _Column(), nn.Sigmoid())
        else:
            self.g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200),
                                   nn.ReLU(), nn.Linear(1200, 784), nn.Sigmoid())
            self.d = nn.Sequential(nn.Dropout(0.2), _PlainMaxout(784, 240, 5), nn.Dropout(0.5),
                                   _PlainMaxout(240, 240, 5), nn.Dropout(0.5),
                                   nn.Linear(240, 1), nn.Sigmoid())
        self.opt_d = torch.optim.SGD(self.d.parameters(), lr=0.1, momentum=0.5)
        self.opt_g = torch.optim.SGD(self.g.parameters(), lr=0.1, momentum=0.5)
        self.flat, self.batch = images.reshape(len(images), -1), batch
        self.ones, self.zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        self(1)

    def __call__(self, steps: int) -> float:
        g, d, bce, batch = self.g, self.d, nn.BCELoss(), self.batch
        start = time.perf_counter()
        for _ in range(steps):
            x = self.flat[torch.randint(len(self.flat), (batch,))]
            z = torch.rand(batch, 100) * 2 * math.sqrt(3) - math.sqrt(3)
            fake = g(z).reshape(batch, -1)
            self.opt_d.zero_grad()
            loss_d = 0.5 * (bce(d(x), self.ones) + bce(d(fake.detach()), self.zeros))
            loss_d.backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            loss_g = bce(d(fake), self.ones)
            loss_g.backward()
            self.opt_g.step()
        _ = (loss_d.item(), loss_g.item())  # a log line's read-back
        return time.perf_counter() - start


def plain_loop(images: torch.Tensor, steps: int, batch: int = 100) -> float:
    """Samples/s of ``PlainLoop`` over ``steps`` steps."""
    return steps * batch / PlainLoop(images, batch)(steps)


class PlainConvLoop:
    """A DCGAN trained as the PyTorch DCGAN example does: D on a real and a detached fake batch,
    then G on the same fake batch through the updated D; Adam, BCE on logits. The networks
    are gankit's (plain nn.Modules), so both loops train the same model."""

    def __init__(self, cfg: Config, images: torch.Tensor, batch: int) -> None:
        shape = tuple(images.shape[1:])
        self.g, self.d = build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), cfg.optim.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), cfg.optim.lr, betas=betas)
        self.images, self.batch = images, batch
        self.ones, self.zeros = torch.ones(batch), torch.zeros(batch)
        self(1)

    def __call__(self, steps: int) -> float:
        bce, batch = nn.functional.binary_cross_entropy_with_logits, self.batch
        start = time.perf_counter()
        for _ in range(steps):
            x = self.images[torch.randint(len(self.images), (batch,))]
            fake = self.g(torch.randn(batch, self.g.noise_dim))
            self.opt_d.zero_grad()
            loss_d = 0.5 * (bce(self.d(x), self.ones) + bce(self.d(fake.detach()), self.zeros))
            loss_d.backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            loss_g = bce(self.d(fake), self.ones)
            loss_g.backward()
            self.opt_g.step()
        _ = (loss_d.item(), loss_g.item())
        return time.perf_counter() - start


def counted_flops(loop: Any, batch: int) -> float:
    """FLOPs per training example of one step of ``loop``, counted by torch's FLOP counter
    (matrix products and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loop(1)
    return counter.get_total_flops() / batch


def conv_gemm_shapes(cfg: Config, shape: tuple[int, int, int], batch: int
                     ) -> list[tuple[int, int, int]]:
    """(m, k, n) of the forward products of G's and D's convolutions as im2col GEMMs."""
    g, d = build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)
    shapes: list[tuple[int, int, int]] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if isinstance(module, nn.ConvTranspose2d):
            b, c, h, w = inputs[0].shape
            k = module.kernel_size[0] * module.kernel_size[1]
            shapes.append((b * h * w, c, module.out_channels * k))
        elif isinstance(module, nn.Conv2d):
            b, _, h, w = out.shape
            k = module.kernel_size[0] * module.kernel_size[1]
            shapes.append((b * h * w, module.in_channels * k, module.out_channels))
        elif isinstance(module, nn.Linear):
            shapes.append((inputs[0].shape[0], module.in_features, module.out_features))

    hooks = [m.register_forward_hook(record) for net in (g, d) for m in net.modules()]
    with torch.no_grad():
        d(g(g.sample_noise(batch)))
    for h in hooks:
        h.remove()
    return shapes


def check_benchable(cfg: Config) -> None:
    """Refuse what the plain loops do not implement, rather than compare unlike models (the
    bench always trains on 28x28 MNIST-shaped images, see ``load_images``)."""
    from gankit.errors import ConfigError

    m = cfg.model
    paper_mlp = (m.arch == "mlp" and m.noise_dim == 100 and list(m.g_hidden) == [1200, 1200]
                 and list(m.d_units) == [240, 240] and m.d_pieces == 5)
    if cfg.condition.classes or cfg.game.name != "gan" or not (paper_mlp or m.arch == "dcgan"):
        raise ConfigError("gankit bench compares gankit with a plain loop of the paper-mnist "
                          "MLP or of a DCGAN (model.arch = 'dcgan'), unconditional, on MNIST; "
                          "use --preset paper-mnist or --preset dcgan-mnist")


def players(cfg: Config, shape: tuple[int, int, int]) -> tuple[Player, Player]:
    g = build_generator(cfg.model, shape)
    d = build_discriminator(cfg.model, shape)
    return (Player(g, *build_optimizer(cfg.optim, g.parameters())),
            Player(d, *build_optimizer(cfg.optim, d.parameters())))


class GankitLoop:
    """gankit's configured step, batches by index into the in-memory tensor as the trainer."""

    def __init__(self, cfg: Config, images: torch.Tensor, batch: int) -> None:
        self.g, self.d = players(cfg, tuple(images.shape[1:]))
        objective = GanObjective(GENERATOR_LOSSES[cfg.game.g_loss])
        self.step = build_step(cfg, objective, self.g, self.d)
        self.images, self.batch = images, batch
        self(1)  # first call: buffers (and compilation, if asked)

    def __call__(self, steps: int) -> float:
        order = torch.randint(len(self.images), (steps, self.batch))
        start = time.perf_counter()
        for idx in order:
            stats = self.step(self.g, self.d, [Batch(self.images[idx])])
        float(stats.d_loss)  # a log line's read-back
        return time.perf_counter() - start


def race(contestants: dict[str, Any], steps: int, chunks: int) -> dict[str, list[float]]:
    """Seconds per chunk of ``steps`` steps for each contestant, in alternating order."""
    times: dict[str, list[float]] = {name: [] for name in contestants}
    names = list(contestants)
    for c in range(chunks):
        for name in names if c % 2 == 0 else names[::-1]:
            times[name].append(contestants[name](steps))
    return times


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


def run(rounds: int = 6, steps: int = 120, batches: tuple[int, ...] = (50, 100, 200, 500, 1000),
        data_dir: Path | None = None, preset: str = "paper-mnist",
        sets: tuple[str, ...] = ()) -> dict[str, Any]:
    """``rounds`` chunks of ``steps // rounds`` steps per contestant, alternating; the figures
    are totals over the chunks (ratios also as the median of per-chunk ratios)."""
    cfg = build_config(preset, sets=list(sets))
    if cfg.speed.threads:  # for every contestant, not only gankit's step
        torch.set_num_threads(cfg.speed.threads)
    check_benchable(cfg)  # before loading the images
    images, source = load_images(data_dir)
    pixels = math.prod(images.shape[1:])
    conv = cfg.model.arch == "dcgan"
    if conv:
        images = images * 2 - 1  # the DCGAN's tanh range

    def plain_at(batch: int) -> Any:
        return PlainConvLoop(cfg, images, batch) if conv else PlainLoop(images, batch)

    bs = cfg.train.batch_size
    chunk = max(1, steps // rounds)
    plain, ours = plain_at(bs), GankitLoop(cfg, images, bs)
    if conv:
        flops = {"useful": counted_flops(ours, bs), "plain_loop": counted_flops(plain, bs)}
        probe = MatmulProbe(conv_gemm_shapes(cfg, tuple(images.shape[1:]), bs))
    else:
        flops = flops_per_sample(cfg, pixels)
        probe = MatmulProbe(model_gemm_shapes(cfg, pixels, bs))
    square = MatmulProbe([(512, 512, 512)])
    contestants = {"plain": plain, "gankit": ours, "mm": probe, "mm512": square}
    if bf16_matmul_supported():
        contestants["mm512_bf16"] = square_bf16 = MatmulProbe([(512, 512, 512)], torch.bfloat16)
    t = race(contestants, chunk, rounds)
    per_s = {k: chunk * rounds * bs / sum(v) for k, v in t.items()}
    result: dict[str, Any] = {
        "preset": preset, "data": source, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "batch_size": bs, "rounds": rounds, "steps": steps,
        "useful_mflop_per_sample": flops["useful"] / 1e6,
        "plain_loop_mflop_per_sample": flops["plain_loop"] / 1e6,
        "plain_samples_per_s": per_s["plain"], "gankit_samples_per_s": per_s["gankit"],
        "ratio": per_s["gankit"] / per_s["plain"],
        "ratio_median_of_rounds": statistics.median(
            p / o for p, o in zip(t["plain"], t["gankit"], strict=True)),
        "matmul_gflops_model_shapes": probe.flops * chunk * rounds / sum(t["mm"]) / 1e9,
        "matmul_gflops_512": square.flops * chunk * rounds / sum(t["mm512"]) / 1e9,
        "matmul_gflops_512_bf16": (square_bf16.flops * chunk * rounds / sum(t["mm512_bf16"])
                                   / 1e9 if "mm512_bf16" in t else None),
    }
    useful = result["gankit_samples_per_s"] * flops["useful"] / 1e9
    result["useful_gflops"] = useful
    result["utilisation_model_shapes"] = useful / result["matmul_gflops_model_shapes"]
    result["utilisation_512"] = useful / result["matmul_gflops_512"]
    result["floor_ms_per_step"] = bs * flops["useful"] / 1e9 / result[
        "matmul_gflops_model_shapes"] * 1e3
    curve = []
    for b in batches:
        n = max(2, chunk * bs // b)
        tb = race({"plain": plain_at(b), "gankit": GankitLoop(cfg, images, b)}, n, 2)
        p, o = (2 * n * b / sum(tb[k]) for k in ("plain", "gankit"))
        curve.append({"batch": b, "plain_samples_per_s": p, "gankit_samples_per_s": o,
                      "ratio": o / p})
    result["batch_curve"] = curve
    result |= sampling_rate(cfg, tuple(images.shape[1:]))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['preset']}, batch {r['batch_size']}, {r['threads']} threads, torch {r['torch']}, "
        f"data {r['data']}; {r['steps']} steps each in {r['rounds']} alternating chunks",
        f"  useful work       : {r['useful_mflop_per_sample']:8.1f} MFLOP per example "
        f"(plain loop computes {r['plain_loop_mflop_per_sample']:.1f})",
        f"  fp32 matmul rate  : {r['matmul_gflops_model_shapes']:8.1f} GFLOP/s at the model's "
        f"shapes, {r['matmul_gflops_512']:.1f} at 512^3",
        "  bf16 matmul rate  : " + (
            f"{r['matmul_gflops_512_bf16']:8.1f} GFLOP/s at 512^3 (speed.autocast = 'bf16' "
            "can pay here)" if r.get("matmul_gflops_512_bf16") else
            "     no bf16 units on this CPU (speed.autocast = 'bf16' would be slower)"),
        f"  floor per step    : {r['floor_ms_per_step']:8.2f} ms at the model-shape rate",
        f"  plain PyTorch loop: {r['plain_samples_per_s']:8.0f} samples/s",
        f"  gankit step       : {r['gankit_samples_per_s']:8.0f} samples/s  "
        f"= {r['ratio']:.2f}x plain (median over chunks {r['ratio_median_of_rounds']:.2f}x), "
        f"{r['useful_gflops']:.1f} useful GFLOP/s = "
        f"{100 * r['utilisation_model_shapes']:.0f}% of the model-shape rate, "
        f"{100 * r['utilisation_512']:.0f}% of the 512^3 rate",
        "  batch  plain/s  gankit/s  ratio",
    ]
    lines += [f"  {c['batch']:5d} {c['plain_samples_per_s']:8.0f} {c['gankit_samples_per_s']:9.0f}"
              f"  {c['ratio']:5.2f}x" for c in r["batch_curve"]]
    lines += [f"  sampling (G forward): {r['sample_images_per_s']:9.0f} images/s",
              f"  evaluation (D forward): {r['discriminate_images_per_s']:7.0f} images/s"]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=6,
                        help="alternating chunks the steps are split into")
    parser.add_argument("--steps", type=int, default=120,
                        help="steps per contestant at the preset's batch (curve: same examples)")
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
