"""Does the quickstart draw digits a person reads? Measured, not judged by eye.

A classifier of scikit-learn's 8x8 digits (logistic regression on the quickstart's training
split; its accuracy on the held-out test split is reported) labels 1,000 samples of each run.
Reported per seed: the share of samples it labels with confidence >= 0.9, beside the same share
for the held-out real digits; the class histogram of the confident samples (every class should
hold >= 5% of all samples); and, against copying, the mean distance from each sample to its
nearest training digit beside the same for held-out digits. For a conditional G (the
quickstart), sample i is asked for digit i mod 10, and the share of samples read as the digit
they were asked for is reported too: every class present is then G's doing, not the labels'.

    python benchmarks/quickstart_quality.py --seeds 11 12 13 --out runs/qs-quality
    python benchmarks/quickstart_quality.py --preset paper-digits --seeds 11 12 13 --out runs/qp
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

import gankit
from gankit.data.digits import load_digits
from gankit.sampling import for_display

CONFIDENT = 0.9
SAMPLES = 1000


def digit_reader(seed: int = 0) -> tuple[LogisticRegression, float]:
    """The reader: trained on the training split, scored on the held-out test split."""
    train, test = load_digits("train"), load_digits("test")
    clf = LogisticRegression(C=1.0, max_iter=5000, random_state=seed)
    clf.fit(train.images.reshape(len(train), -1).numpy(), train.labels.numpy())
    accuracy = clf.score(test.images.reshape(len(test), -1).numpy(), test.labels.numpy())
    return clf, float(accuracy)


def read(clf: LogisticRegression, images: np.ndarray,
         asked: np.ndarray | None = None) -> dict[str, object]:
    """Confident share and the class histogram of the confident images (as shares of all);
    with ``asked`` (a conditional G's labels), the share confidently read as the asked digit."""
    probs = clf.predict_proba(images.reshape(len(images), -1))
    confident = probs.max(1) >= CONFIDENT
    classes = probs.argmax(1)[confident]
    hist = np.bincount(classes, minlength=10) / len(images)
    out = {"confident": float(confident.mean()), "class_shares": hist.round(4).tolist(),
           "smallest_class": float(hist.min())}
    if asked is not None:
        out["read_as_asked"] = float((confident & (probs.argmax(1) == asked)).mean())
    return out


def nearest_distance(images: np.ndarray, train: np.ndarray) -> float:
    """Mean Euclidean distance from each image to its nearest training image (pixels in [0,1])."""
    d = torch.cdist(torch.from_numpy(images.reshape(len(images), -1)).double(),
                    torch.from_numpy(train.reshape(len(train), -1)).double())
    return float(d.min(1).values.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--preset", default="quickstart")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    clf, accuracy = digit_reader()
    train = load_digits("train").images.numpy()
    test = load_digits("test").images.numpy()
    real = read(clf, test) | {"nearest_train": nearest_distance(test, train)}
    print(f"reader: held-out accuracy {accuracy:.3f}; real test digits: confident "
          f"{real['confident']:.3f}, nearest training digit {real['nearest_train']:.3f}")
    rows = []
    for seed in args.seeds:
        out = args.out / f"seed-{seed}"
        wall = time.perf_counter()
        cpu = time.process_time()
        gankit.train(args.preset, out=out, sets=[*args.set, f"train.seed={seed}"],
                     progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        g = gankit.load_generator(out)  # the one `gankit sample` draws (the EMA one if kept)
        images = for_display(gankit.sample(g, SAMPLES, seed=10_000 + seed), g).numpy()
        classes = getattr(g, "classes", 0)  # gankit.sample asks for class i mod classes
        asked = np.arange(SAMPLES) % classes if classes else None
        row = {"seed": seed, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
               **read(clf, images, asked), "nearest_train": nearest_distance(images, train)}
        row["confident_vs_real"] = row["confident"] / real["confident"]
        rows.append(row)
        print(f"seed {seed}: {wall:.0f} s wall ({cpu:.0f} CPU-s); confident {row['confident']:.3f}"
              f" ({row['confident_vs_real']:.0%} of real); smallest class "
              f"{row['smallest_class']:.3f}; nearest training digit {row['nearest_train']:.3f}"
              + (f"; read as asked {row['read_as_asked']:.3f}" if classes else ""))
    report = {"preset": args.preset, "sets": args.set, "reader_accuracy": accuracy,
              "real": real, "runs": rows, "versions": gankit.__version__,
              "torch_threads": torch.get_num_threads()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quickstart_quality.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
