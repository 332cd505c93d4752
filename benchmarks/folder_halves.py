"""MNIST written as PNG folders, for the real-vs-real calibration of `gankit fid`.

OUT/half1 and OUT/half2: the first and second halves of the first ``--n`` MNIST test digits,
one subfolder per digit. OUT/train: the first ``--train`` MNIST training digits (labelled), for
`gankit train-classifier`; OUT/train-flat: the same without labels (an autoencoder's folder).
docs/evaluation.md ("Your own images") lists the commands that follow and their figures.

    python benchmarks/folder_halves.py --out DIR [--n 10000] [--train 10000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.data import load_dataset


def write(folder: Path, images, labels, by_class: bool = True) -> None:
    for i, (x, y) in enumerate(zip(images, labels, strict=True)):
        dest = folder / str(int(y)) if by_class else folder
        dest.mkdir(parents=True, exist_ok=True)
        pixels = (x[0].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels, "L").save(dest / f"{i:05d}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=10_000, help="test digits, split in two halves")
    ap.add_argument("--train", type=int, default=10_000, help="training digits")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    test = load_dataset("mnist", "test", args.data_dir)
    train = load_dataset("mnist", "train", args.data_dir)
    half = args.n // 2
    write(args.out / "half1", test.images[:half], test.labels[:half])
    write(args.out / "half2", test.images[half:2 * half], test.labels[half:2 * half])
    write(args.out / "train", train.images[:args.train], train.labels[:args.train])
    write(args.out / "train-flat", train.images[:args.train], train.labels[:args.train], False)
    print(f"wrote {args.out}/half1, half2 ({half} digits each), train and train-flat "
          f"({args.train} digits)")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
