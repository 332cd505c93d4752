"""The machine's matrix-multiply rate, and the race that times contestants side by side.

Each contestant is built once, then called with a number of steps and returns the seconds
taken; ``race`` calls them in short alternating chunks so that every one sees the same load.
"""

from __future__ import annotations

import time
from typing import Any

import torch


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


def race(contestants: dict[str, Any], steps: int, chunks: int) -> dict[str, list[float]]:
    """Seconds per chunk of ``steps`` steps for each contestant, in alternating order."""
    times: dict[str, list[float]] = {name: [] for name in contestants}
    names = list(contestants)
    for c in range(chunks):
        for name in names if c % 2 == 0 else names[::-1]:
            times[name].append(contestants[name](steps))
    return times
