"""The real-MNIST learning check of tests/test_mnist_end_to_end.py for any seeds and step.

The test trains `paper-mnist` for 400 steps and asks that the 1-D Wasserstein distance between
the pixel values of 500 samples and of 500 test digits fall below 0.65 x the untrained
generator's. This script runs the same check for other seeds, step counts and
`speed.step = auto / autograd` (auto is the fused step for this model), and prints beside it
the measure the test used before: the mean squared distance of the samples to their nearest
training image, which at 400 steps goes either way with the seed and float32 rounding
(docs/speed.md). Each run takes well under a minute on one core.

    python benchmarks/learning_check.py [--seeds 0,1,2,3] [--steps auto,autograd] [--threads 1]
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


def pixel_value_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """1-D Wasserstein distance between the pixel values of two equally large image sets."""
    return (a.flatten().double().sort().values - b.flatten().double().sort().values
            ).abs().mean().item()


def check(seed: int, step: str, max_steps: int, root: Path) -> dict[str, tuple[float, float]]:
    """measure -> (untrained, trained) for one run, as the end-to-end test measures it."""
    cfg = build_config("paper-mnist", sets=[
        f"data.data_dir={str(root)!r}", f"train.max_steps={max_steps}", "train.log_every=50",
        f"train.seed={seed}", f"speed.step={step!r}", "report.html=false"])
    train_set = load_dataset("mnist", "train", root)
    real = load_dataset("mnist", "test", root).images[:500]
    reference = train_set.images[:10_000]
    with tempfile.TemporaryDirectory() as tmp:
        train(config=cfg, out=Path(tmp) / "r", progress=False)
        trained = sample(load_generator(Path(tmp) / "r"), 500, seed=1)
    torch.manual_seed(seed)  # the initial weights the run started from
    untrained = sample(build_generator(cfg.model, train_set.shape, train_set.pixel_mean()),
                       500, seed=1)
    return {"pixels": (pixel_value_distance(untrained, real), pixel_value_distance(trained, real)),
            "nn": (nn_distance(untrained, reference), nn_distance(trained, reference))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--steps", default="auto,autograd", help="speed.step values")
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = data_root(args.data_dir)
    for seed in (int(s) for s in args.seeds.split(",")):
        for step in args.steps.split(","):
            m = check(seed, step, args.max_steps, root)
            (p0, p1), (n0, n1) = m["pixels"], m["nn"]
            verdict = "passes" if p1 < 0.65 * p0 else "fails"
            print(f"seed {seed} {step:8s}: pixel-value distance {p0:.4f} -> {p1:.4f} "
                  f"(ratio {p1 / p0:.3f}, {verdict}); NN distance {n0:.2f} -> {n1:.2f} "
                  f"(ratio {n1 / n0:.3f})", flush=True)


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
