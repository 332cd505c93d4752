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

Pieces: ``flops`` (work per example), ``timing`` (matmul probes, the race), ``loops`` (the
plain loops and gankit's), ``report`` (the text); ``run`` here puts them together.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from gankit.bench.flops import (
    conv_gemm_shapes,
    counted_flops,
    flops_per_sample,
    layer_shapes,
    model_gemm_shapes,
)
from gankit.bench.loops import (
    GankitLoop,
    PlainConvLoop,
    PlainLoop,
    check_benchable,
    plain_loop,
    players,
)
from gankit.bench.report import format_report
from gankit.bench.timing import MatmulProbe, bf16_matmul_supported, matmul_rate, race
from gankit.config import Config, build_config

__all__ = [
    "GankitLoop", "MatmulProbe", "PlainConvLoop", "PlainLoop", "bf16_matmul_supported",
    "check_benchable", "conv_gemm_shapes", "counted_flops", "flops_per_sample", "format_report",
    "layer_shapes", "load_images", "matmul_rate", "model_gemm_shapes", "plain_loop", "players",
    "race", "run", "sampling_rate",
]


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


def load_images(data_dir: Path | None) -> tuple[torch.Tensor, str]:
    """MNIST's training images if at hand, else random images of its shape (speed is the same)."""
    from gankit.data import load_dataset
    from gankit.errors import GankitError

    try:
        return load_dataset("mnist", "train", data_dir).images, "mnist"
    except GankitError:
        return torch.rand(10000, 1, 28, 28), "random 28x28 (MNIST not found)"


def _plain_at(cfg: Config, images: torch.Tensor, batch: int) -> Any:
    if cfg.model.arch == "dcgan":
        return PlainConvLoop(cfg, images, batch)
    return PlainLoop(images, batch)


def _work_and_probe(cfg: Config, images: torch.Tensor, plain: Any, ours: GankitLoop,
                    batch: int) -> tuple[dict[str, float], MatmulProbe]:
    """FLOPs per example of both loops, and a matmul probe at the model's own product shapes."""
    if cfg.model.arch == "dcgan":
        flops = {"useful": counted_flops(ours, batch), "plain_loop": counted_flops(plain, batch)}
        return flops, MatmulProbe(conv_gemm_shapes(cfg, tuple(images.shape[1:]), batch))
    pixels = math.prod(images.shape[1:])
    return flops_per_sample(cfg, pixels), MatmulProbe(model_gemm_shapes(cfg, pixels, batch))


def _batch_curve(cfg: Config, images: torch.Tensor, batches: tuple[int, ...],
                 examples: int) -> list[dict[str, float]]:
    """Plain loop against gankit at each batch size, over the same number of examples."""
    curve = []
    for b in batches:
        n = max(2, examples // b)
        tb = race({"plain": _plain_at(cfg, images, b), "gankit": GankitLoop(cfg, images, b)},
                  n, 2)
        p, o = (2 * n * b / sum(tb[k]) for k in ("plain", "gankit"))
        curve.append({"batch": b, "plain_samples_per_s": p, "gankit_samples_per_s": o,
                      "ratio": o / p})
    return curve


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
    if cfg.model.arch == "dcgan":
        images = images * 2 - 1  # the DCGAN's tanh range
    bs = cfg.train.batch_size
    chunk = max(1, steps // rounds)
    plain, ours = _plain_at(cfg, images, bs), GankitLoop(cfg, images, bs)
    flops, probe = _work_and_probe(cfg, images, plain, ours, bs)
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
    result["batch_curve"] = _batch_curve(cfg, images, batches, chunk * bs)
    result |= sampling_rate(cfg, tuple(images.shape[1:]))
    return result
