"""Time the paper's Parzen protocol on MNIST and print the real-data calibration.

Samples = 10,000 real training images (what a perfect generator would score with 10,000
samples); sigma chosen on the first 1,000 validation images; mean over the 10,000 test images.
Compared with a direct float64 NumPy implementation of the same protocol.

    python benchmarks/parzen.py [--rounds 3] [--threads 2] [--skip-numpy]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from scipy.special import logsumexp

from gankit.data import load_dataset
from gankit.metrics.parzen import PAPER_SIGMAS, parzen_protocol


def numpy_float64_protocol(samples: np.ndarray, valid: np.ndarray, test: np.ndarray
                           ) -> tuple[float, float, float]:
    """The protocol written plainly in float64 NumPy, one sigma at a time."""
    d = samples.shape[1]

    def mean_ll(x: np.ndarray, sigma: float) -> np.ndarray:
        out = []
        for i in range(0, len(x), 1000):
            xb = x[i:i + 1000]
            d2 = (xb**2).sum(1)[:, None] - 2 * xb @ samples.T + (samples**2).sum(1)[None]
            out.append(logsumexp(-d2 / (2 * sigma**2), axis=1) - np.log(len(samples))
                       - d * np.log(sigma * np.sqrt(2 * np.pi)))
        return np.concatenate(out)

    best = max(PAPER_SIGMAS, key=lambda s: mean_ll(valid, s).mean())
    ll = mean_ll(test, best)
    return float(ll.mean()), float(ll.std() / np.sqrt(len(ll))), best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-numpy", action="store_true")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = load_dataset("mnist", "train", args.data_dir).flat()[:10_000]
    valid = load_dataset("mnist", "valid", args.data_dir).flat()[:1_000]
    test = load_dataset("mnist", "test", args.data_dir).flat()
    # Wall time, and CPU time of the process: on a shared machine the CPU seconds are the
    # honest measure of the work (wall time there mostly measures the other processes).
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.1f}")
    times: dict[str, tuple[float, float]] = {}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        best = (float("inf"), float("inf"))
        for _ in range(args.rounds if name == "float32" else 1):
            t, c = time.perf_counter(), time.process_time()
            r = parzen_protocol(samples, valid, test, dtype=dtype)
            best = min(best, (time.perf_counter() - t, time.process_time() - c))
        times[name] = best
        print(f"gankit {name}: {r.mean:.2f} +- {r.se:.2f} nats, sigma {r.sigma:.4f}, "
              f"wall {best[0]:.2f} s, CPU {best[1]:.2f} s")
    print(f"float64 / float32: wall {times['float64'][0] / times['float32'][0]:.1f}x, "
          f"CPU {times['float64'][1] / times['float32'][1]:.1f}x")
    if not args.skip_numpy:
        t, c = time.perf_counter(), time.process_time()
        mean, se, sigma = numpy_float64_protocol(samples.double().numpy(),
                                                 valid.double().numpy(), test.double().numpy())
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"direct NumPy float64: {mean:.2f} +- {se:.2f} nats, sigma {sigma:.4f}, "
              f"wall {wall:.2f} s, CPU {cpu:.2f} s ({wall / times['float32'][0]:.1f}x wall, "
              f"{cpu / times['float32'][1]:.1f}x CPU of gankit float32)")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
