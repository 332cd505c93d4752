"""Every metric at its two ends: real data (best attainable) and an untrained generator (worst).

best:  feature metrics of the 10,000 MNIST test images against the reference (the first 10,000
       training images); Parzen of 10,000 training images used as samples (the calibration;
       test images cannot be their own samples).
worst: the paper's generator at initialisation (seed 0), 10,000 samples, every metric.

    python benchmarks/metric_bounds.py [--out bounds.json]
"""

from __future__ import annotations

import argparse
import json

import torch

from gankit.config import Config
from gankit.data import load_dataset
from gankit.metrics.evaluate import Evaluator, format_table
from gankit.metrics.registry import FEATURES, names_needing
from gankit.nets import build_generator
from gankit.nets.noise import sample_noise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    train = load_dataset("mnist", "train", args.data_dir)
    test = load_dataset("mnist", "test", args.data_dir).images
    features = Evaluator("mnist", args.data_dir, sorted(names_needing(FEATURES)))
    parzen = Evaluator("mnist", args.data_dir, ["parzen"])
    best = parzen.run(train.images[:10_000]) + features.run(test)

    torch.manual_seed(0)
    g = build_generator(Config().model, train.shape, train.pixel_mean()).eval()
    z = sample_noise(10_000, g.noise_dim, g.prior, "cpu", torch.Generator().manual_seed(0))
    with torch.no_grad():
        untrained = g(z)
    worst = parzen.run(untrained) + features.run(untrained)
    print("best (real data)\n" + format_table(best))
    print("worst (untrained generator)\n" + format_table(worst))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"best": best, "worst": worst}, f, indent=1)


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
