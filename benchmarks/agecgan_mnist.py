"""Age-cGAN on MNIST: conditional sample quality, reconstruction, and condition swaps.

    python benchmarks/agecgan_mnist.py RUN [--out docs/figures] [--n-test 100] [--tag cdcgan]

RUN is a conditional MNIST run or checkpoint (gankit train --preset cdcgan-mnist, or the MLP
presets acgan-mnist, cgan-mnist); all images are measured in [0, 1], whatever G's output unit.
The script trains the run's encoder if it has none, then measures with the MNIST classifier of
gankit.metrics:

1. per-class accuracy of the classifier on G's samples, and FID per class (classifier
   features, against the test digits of that class);
2. feature distance and pixel error of G(E(x), y0) and G(z*, y0) on test digits, for z*
   optimised in feature space and in pixel space;
3. accuracy of the classifier on G(z*, t) for all ten targets t, and how much of each digit's
   slant and thickness survives the swap (gankit.agecgan.style), beside a baseline that
   draws a random z.

It prints Markdown tables, writes results.json and two figures (the same z across all classes;
transfers of real test digits) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from gankit.agecgan import (
    load_conditional_generator,
    load_encoder,
    regenerate,
    train_run_encoder,
)
from gankit.agecgan.encoder import encoder_dir_of
from gankit.agecgan.latent import distance, optimise_latent, render
from gankit.agecgan.style import style_agreement
from gankit.agecgan.transfer import infer_source
from gankit.data import load_dataset
from gankit.figures.grid import save_grid

try:  # the MNIST classifier and FID come with gankit.metrics (the evaluation issue)
    from gankit.metrics.features import load_feature_network
    from gankit.metrics.fid import fid
except ImportError:  # without it: pixel-space inversion and style only
    load_feature_network = fid = None


def sample_quality(g, net, test, per_class: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    acc, fids = [], []
    for c in range(g.classes):
        with torch.no_grad():
            x = render(g, g.sample_noise(per_class, gen), torch.full((per_class,), c))
        feats, logits = net.extract(x)
        acc.append(float((logits.argmax(1) == c).double().mean()))
        real, _ = net.extract(test.images[test.labels == c])
        fids.append(fid(feats, real))
    return {"accuracy": acc, "fid": fids}


def z_diversity(g, test, n: int, seed: int) -> dict:
    """Mean per-pixel std (in [0, 1]) over n draws of z for each class, beside real digits'.

    A generator that ignores z (collapse within a class) has nothing for Age-cGAN to keep.
    """
    gen = torch.Generator().manual_seed(seed)
    fake, real = [], []
    for c in range(g.classes):
        with torch.no_grad():
            x = render(g, g.sample_noise(n, gen), torch.full((n,), c))
        fake.append(float(x.std(0).mean()))
        real.append(float(test.images[test.labels == c][:n].std(0).mean()))
    return {"generated": fake, "test": real}


def reconstruction(g, enc, net, x, y, steps: int, lr: float) -> dict:
    with torch.no_grad():
        z0 = enc(x)
    out = {"z0": z0}
    rows = {}
    spaces = [("E(x)", None), ("z* feature", "feature"), ("z* pixel", "pixel")]
    for name, space in spaces if net is not None else [spaces[0], spaces[2]]:
        if space is None:
            z = z0
        else:
            fit = optimise_latent(g, x, y, z0, space=space, steps=steps, lr=lr,
                                  feature_net=net.features_fn if net else None)
            z = fit.z
        with torch.no_grad():
            r = render(g, z, y)
            rows[name] = {"pixel_mse": float(distance(r, x).mean()),
                          "inferred_source_accuracy": float(
                              (infer_source(g, x, z) == y).double().mean())}
            if net is not None:
                rows[name] |= {
                    "feature_distance": float(distance(r, x, net.features_fn).mean()),
                    "classifier_accuracy": float(
                        (net.extract(r)[1].argmax(1) == y).double().mean())}
        out[name] = z
    out["rows"] = rows
    return out


def swap(g, net, x, y, z: torch.Tensor) -> dict:
    targets = torch.arange(g.classes)
    images = regenerate(g, z, targets).flatten(0, 1)  # (N * T, C, H, W)
    t = targets.repeat(len(z))
    src = x.repeat_interleave(len(targets), 0)
    src_y = y.repeat_interleave(len(targets))
    out = {"slant_agreement": style_agreement(src, src_y, images, t, "slant"),
           "thickness_agreement": style_agreement(src, src_y, images, t, "thickness")}
    if net is not None:
        pred = net.extract(images)[1].argmax(1)
        out["accuracy"] = float((pred == t).double().mean())
        out["accuracy_per_target"] = [float((pred[t == c] == c).double().mean())
                                      for c in targets]
    return out


def _table(first: str, rows: dict, cols: list[str]) -> None:
    cols = [c for c in cols if any(c in r for r in rows.values())]
    print(f"\n| {first} | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[c]:.4f}" for c in cols) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    ap.add_argument("--n-test", type=int, default=100, help="test digits to invert")
    ap.add_argument("--per-class", type=int, default=500, help="samples per class")
    ap.add_argument("--encoder-steps", type=int, default=3000)
    ap.add_argument("--opt-steps", type=int, default=200)
    ap.add_argument("--opt-lr", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", help="name the outputs TAG-same-z.png, TAG-transfer.png, "
                    "TAG-results.json (default: cgan-same-z.png, agecgan-transfer.png, "
                    "agecgan-results.json)")
    args = ap.parse_args()
    names = ([f"{args.tag}-same-z.png", f"{args.tag}-transfer.png", f"{args.tag}-results.json"]
             if args.tag else ["cgan-same-z.png", "agecgan-transfer.png", "agecgan-results.json"])
    torch.manual_seed(args.seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    g = load_conditional_generator(args.run)
    net = load_feature_network("mnist-classifier") if load_feature_network else None
    test = load_dataset("mnist", "test")
    results: dict = {"run": str(args.run), "feature_network": net and net.name,
                     "digest": net and net.digest}
    div = z_diversity(g, test, 200, args.seed)
    results["z_diversity"] = div
    print("| class | " + " | ".join(map(str, range(g.classes))) + " |")
    print("|---" * (g.classes + 1) + "|")
    print("| pixel std over z (G) | " + " | ".join(f"{v:.3f}" for v in div["generated"]) + " |")
    print("| pixel std over test digits | " + " | ".join(f"{v:.3f}" for v in div["test"]) + " |")
    if net is None:
        print("gankit.metrics is missing: no classifier accuracy, FID or feature-space runs")
    else:
        q = sample_quality(g, net, test, args.per_class, args.seed)
        results["samples"] = q
        print("| class | " + " | ".join(map(str, range(g.classes))) + " |")
        print("|---" * (g.classes + 1) + "|")
        print("| classifier accuracy | " + " | ".join(f"{a:.3f}" for a in q["accuracy"]) + " |")
        print("| FID (classifier features) | " + " | ".join(f"{f:.2f}" for f in q["fid"])
              + " |")

    if not encoder_dir_of(args.run).is_dir():
        rep = train_run_encoder(args.run, steps=args.encoder_steps, seed=args.seed)
        print(f"encoder: {rep.steps} steps, held-out squared z error {rep.heldout_loss:.4f}")
    enc = load_encoder(encoder_dir_of(args.run))

    # The first n test digits, balanced over classes.
    gen = torch.Generator().manual_seed(args.seed)
    per = args.n_test // g.classes
    idx = torch.cat([torch.nonzero(test.labels == c).flatten()[:per] for c in range(g.classes)])
    idx = idx[torch.randperm(len(idx), generator=gen)]
    x, y = test.images[idx], test.labels[idx]
    rec = reconstruction(g, enc, net, x, y, args.opt_steps, args.opt_lr)
    results["reconstruction"] = rec["rows"]
    cols = ["pixel_mse", "feature_distance", "classifier_accuracy", "inferred_source_accuracy"]
    _table("code", {k: v for k, v in rec["rows"].items()}, cols)

    z_rand = g.sample_noise(len(x), gen)
    codes = {k: rec[k] for k in rec["rows"]} | {"random z": z_rand}
    results["swap"] = {name: swap(g, net, x, y, z) for name, z in codes.items()}
    _table("code (swap to all 10 classes)", results["swap"],
           ["accuracy", "slant_agreement", "thickness_agreement"])
    if net is not None:
        print("\n| code: swap accuracy per target | " + " | ".join(map(str, range(g.classes)))
              + " |")
        print("|---" * (g.classes + 1) + "|")
        for name, r in results["swap"].items():
            print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in r["accuracy_per_target"])
                  + " |")

    # Figures: the same z across all classes; transfers of real test digits.
    args.out.mkdir(parents=True, exist_ok=True)
    zs = g.sample_noise(10, torch.Generator().manual_seed(args.seed + 1))
    save_grid(regenerate(g, zs, torch.arange(10)).flatten(0, 1), args.out / names[0],
              nrow=10, scale=2)
    one_each = torch.stack([torch.nonzero(y == c).flatten()[0] for c in range(g.classes)])
    best = rec["z* feature" if net is not None else "z* pixel"][one_each]
    with torch.no_grad():
        rows = torch.cat([x[one_each][:, None],
                          render(g, rec["E(x)"][one_each], y[one_each])[:, None],
                          render(g, best, y[one_each])[:, None],
                          regenerate(g, best, torch.arange(10))], 1)
    save_grid(rows.flatten(0, 1), args.out / names[1], nrow=13, scale=2)
    results["seconds"] = time.perf_counter() - start
    results["cpu_seconds"] = time.process_time() - cpu_start
    results["torch_threads"] = torch.get_num_threads()
    results["load_avg_1min"] = os.getloadavg()[0]
    (args.out / names[2]).write_text(json.dumps(results, indent=1))
    print(f"\nwrote {', '.join(str(args.out / n) for n in names)} "
          f"({results['seconds']:.0f} s wall, {results['cpu_seconds']:.0f} s CPU, "
          f"{results['torch_threads']} torch threads, load {results['load_avg_1min']:.1f})")


if __name__ == "__main__":
    from gankit.errors import run_script

    run_script(main)
