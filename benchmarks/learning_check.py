"""The real-MNIST learning check of tests/test_mnist_end_to_end.py for any seeds and step.

The test trains `paper-mnist` for 400 steps (seed 0) and asks that the mean squared distance of
500 samples to their nearest training image fall below 0.85 x the untrained generator's. This
script runs the same check for other seeds and for `speed.step = autograd / fused`, to show how
much the outcome depends on the trajectory (docs/speed.md). Each run takes 2-3 minutes on one
core.

    python benchmarks/learning_check.py [--seeds 0,1,2] [--steps autograd,fused] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from gankit.api import load_generator, sample, train
from gankit.config import build_config
from gankit.data import load_dataset
from gankit.data.paths import data_root
from gankit.nets import build_generator


def nn_distance(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean over samples of the squared L2 distance to the nearest reference image (float64)."""
    d = torch.cdist(samples.flatten(1).double(), reference.flatten(1).double())
    return d.min(1).values.pow(2).mean().item()


def check(seed: int, step: str, max_steps: int, root: Path) -> tuple[float, float]:
    """(untrained, trained) NN distance for one run, as the end-to-end test measures it."""
    cfg = build_config("paper-mnist", sets=[
        f"data.data_dir={str(root)!r}", f"train.max_steps={max_steps}", "train.log_every=50",
        f"train.seed={seed}", f"speed.step={step!r}", "report.html=false"])
    train_set = load_dataset("mnist", "train", root)
    reference = train_set.images[:10_000]
    with tempfile.TemporaryDirectory() as tmp:
        train(config=cfg, out=Path(tmp) / "r", progress=False)
        after = nn_distance(sample(load_generator(Path(tmp) / "r"), 500, seed=1), reference)
    torch.manual_seed(seed)  # the initial weights the run started from
    untrained = build_generator(cfg.model, train_set.shape, train_set.pixel_mean())
    return nn_distance(sample(untrained, 500, seed=1), reference), after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default="autograd,fused", help="speed.step values")
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = data_root(args.data_dir)
    for seed in (int(s) for s in args.seeds.split(",")):
        for step in args.steps.split(","):
            before, after = check(seed, step, args.max_steps, root)
            verdict = "passes" if after < 0.85 * before else "fails"
            print(f"seed {seed} {step:8s}: untrained {before:.2f} -> {after:.2f} "
                  f"(ratio {after / before:.3f}, {verdict})", flush=True)


if __name__ == "__main__":
    main()
