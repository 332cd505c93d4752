"""What ``data.augment`` (DiffAugment) does for a GAN trained on a small folder of images.

The first ``--images`` MNIST training digits are written as a folder of PNGs (what a user with a
few hundred images has), and ``dcgan-folder`` at 28x28 in grey, base width 32, trains on it for
``--steps`` steps with each variant of ``data.augment`` and each seed. Each run is scored from
10,000 samples in the shipped MNIST classifier's features: FID to the 10,000 MNIST test digits
(images D never saw: what the folder stands for) and FID to the training folder itself. A D
that memorises the folder pushes G towards its few images: the test FID grows and the gap
between the two FIDs with it. Prints one Markdown table and writes the numbers to
``--out/small-data.json``. The process CPU time of each training call is its cost.

    python benchmarks/small_data.py --images 500 --steps 3000 --seeds 40 41 --out runs/small-data
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from folder_halves import write

import gankit
from gankit.data import load_dataset
from gankit.metrics.features import load_feature_network
from gankit.metrics.fid import fid
from gankit.metrics.network import FeatureNetwork
from gankit.sampling import for_display, load_generator

SAMPLES = 10_000
# variant -> data.augment
VARIANTS: dict[str, list[str]] = {"none": [], "translation,cutout": ["translation", "cutout"],
                                  "color,translation,cutout": ["color", "translation", "cutout"]}
MODEL = ["model.g_width=32", "model.d_width=32", "data.image_size=28", "data.color='grey'",
         "train.epochs=0", "train.batch_size=64", "train.sample_every=0", "report.html=false",
         "speed.threads=1"]


def run_one(folder: Path, augment: list[str], seed: int, steps: int, run_dir: Path,
            net: FeatureNetwork, reference: dict[str, torch.Tensor]) -> dict:
    """Train one variant on one seed; its FIDs, CPU seconds and steps."""
    start = time.process_time()
    result = gankit.train("dcgan-folder", out=run_dir, progress=False, sets=[
        *MODEL, f"data.path='{folder}'", f"data.augment={json.dumps(augment)}",
        f"train.max_steps={steps}", f"train.seed={seed}"])
    seconds = time.process_time() - start
    g = load_generator(run_dir)
    feats = net.extract(for_display(gankit.sample(g, SAMPLES, seed=10_000 + seed), g))[0]
    return {"seed": seed, "fid_test": fid(feats, reference["test"]),
            "fid_train": fid(feats, reference["train"]), "cpu_seconds": round(seconds, 1),
            "steps": result.step}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, nargs="+", default=[40, 41])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", type=Path, default=Path("runs/small-data"))
    args = p.parse_args()
    torch.set_num_threads(1)
    train_images = load_dataset("mnist", "train").images[:args.images]
    folder = args.out / f"mnist-{args.images}"
    if not folder.exists():  # grey PNGs, one per digit, no class subfolders
        write(folder, train_images, range(len(train_images)), by_class=False)
    net = load_feature_network("mnist-classifier")
    reference = {"test": net.extract(load_dataset("mnist", "test").images)[0],
                 "train": net.extract(train_images)[0]}
    path = args.out / "small-data.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    for name in args.variants:
        for seed in args.seeds:
            key = f"{args.images} images, {args.steps} steps, {name}, seed {seed}"
            if key not in done:
                run_dir = args.out / "runs" / f"{args.images}-{name.replace(',', '+')}-{seed}"
                done[key] = run_one(folder.resolve(), VARIANTS[name], seed, args.steps, run_dir,
                                    net, reference)
                path.write_text(json.dumps(done, indent=1))
                print(f"{key}: {done[key]}", flush=True)
    print(f"\n{args.images} MNIST digits as a folder, dcgan-folder at 28x28, base width 32, "
          f"{args.steps} steps of 64; FID in classifier features, {SAMPLES:,} samples")
    print("| data.augment | FID to test digits | FID to the folder | CPU s |")
    print("|---|---|---|---|")
    for name in args.variants:
        rows = [done[f"{args.images} images, {args.steps} steps, {name}, seed {s}"]
                for s in args.seeds]
        cells = []
        for k in ("fid_test", "fid_train"):
            v = np.array([r[k] for r in rows])
            cells.append(f"{v.mean():.2f} +- {v.std():.2f} "
                         f"({', '.join(f'{x:.2f}' for x in v)})")
        cpu = np.mean([r["cpu_seconds"] for r in rows])
        print(f"| {name} | {cells[0]} | {cells[1]} | {cpu:.0f} |")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
