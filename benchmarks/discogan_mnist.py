"""Score DiscoGAN's G_AB on the MNIST pairs with a known relation (rot90, invert).

For each run: pixel error of G_AB(x) against the true T(x) on the 10,000 test digits (and the
error of doing nothing, |x - T(x)|, for scale), the error of G_BA going back, and, when the
project's MNIST classifier is installed (gankit.metrics), its accuracy on T^-1(G_AB(x)).
Also writes each run's side-by-side figure (input, translation, reconstruction).

    python benchmarks/discogan_mnist.py --runs discogan=runs/inv-disco gan=runs/inv-gan \\
        --figures docs/   # writes docs/<name>-<data>.png
    # with --train, the runs are trained first (the discogan-mnist-* preset, one epoch each):
    python benchmarks/discogan_mnist.py --train --relation invert --dir runs/discogan-mnist
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from gankit.discogan.game import domains_for
from gankit.discogan.scoring import load_translators, mnist_classifier, score_relation
from gankit.discogan.translate import translate_to_figure

VARIANTS = {  # name -> --set overrides of the discogan-mnist-<relation> preset
    "discogan": [],
    "gan": ["discogan.directions=ab", "discogan.recon_weight=0"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[], metavar="NAME=RUN_DIR")
    parser.add_argument("--train", action="store_true", help="train both variants first")
    parser.add_argument("--relation", choices=["invert", "rot90"], default="invert")
    parser.add_argument("--dir", type=Path, default=Path("runs/discogan-mnist"))
    parser.add_argument("--figures", type=Path, help="write <name>-<relation>.png here")
    parser.add_argument("-n", type=int, default=10_000, help="test digits to score")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = dict(r.split("=", 1) for r in args.runs)
    if args.train:
        from gankit.api import train

        for name, sets in VARIANTS.items():
            out = args.dir / f"{name}-{args.relation}"
            runs[name] = train(f"discogan-mnist-{args.relation}", out=out, sets=sets,
                               progress=False).run_dir
    classifier = mnist_classifier()
    if classifier is None:
        print("# no MNIST classifier installed (gankit.metrics): accuracy not measured")
    for name, run in runs.items():
        g, cfg = load_translators(run)
        score = score_relation(g, domains_for(cfg, "test"), classifier, args.n)
        print(json.dumps({"model": name, "run": str(run), "data": cfg.data.name,
                          **{k: round(v, 4) if isinstance(v, float) else v
                             for k, v in dataclasses.asdict(score).items()}}))
        if args.figures:
            fig = args.figures / f"{name}-{cfg.data.name}.png"
            fig.unlink(missing_ok=True)
            translate_to_figure(run, "A", fig, n=16)
            print(f"# wrote {fig}")


if __name__ == "__main__":
    main()
