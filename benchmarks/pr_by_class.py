"""Where an MNIST run's precision and recall are lost, digit by digit.

``gankit evaluate --metrics pr`` gives two fractions over all samples and all real digits.
This breaks them down by digit: the precision of the samples the shipped MNIST classifier
reads as each digit, the recall of the real digits of each class (by their labels), the share
of samples the classifier reads with less than ``CONFIDENT`` probability (ambiguous strokes),
and, beside each figure, the same for the 10,000 MNIST test digits in G's place: what a G
that drew the data itself would score. Samples are drawn as ``gankit evaluate`` draws them
(10,000, ``--seed`` 0 unless told, the EMA generator where the run keeps one, ``--raw`` for G
itself), against the same reference of 10,000 training digits, so the overall figures are
evaluate's (and benchmarks/stable.py's with ``--seed`` 10,000 + the training seed).
``--noise-scale a`` feeds G a * z instead of z (the same draws of z): a < 1 keeps G to the
middle of its noise space, the truncation trick, and shows the trade of precision for recall
that this G offers.

    python benchmarks/pr_by_class.py runs/mine [runs/other ...] [--raw] [--out pr.json]
    python benchmarks/pr_by_class.py runs/mine --noise-scale 0.8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from gankit import sampling
from gankit.data import load_dataset
from gankit.errors import ConfigError, run_script
from gankit.io import checkpoint as ckpt
from gankit.metrics.evaluate import PAPER_SAMPLES, Evaluator
from gankit.metrics.prc import inside_manifold, knn_radii

CONFIDENT = 0.9  # below this top-class probability a digit counts as ambiguous
CLASSES = 10


class NoiseScaled(nn.Module):
    """G fed ``scale`` times its noise: ``sampling.sample`` draws the same z for it as for G."""

    def __init__(self, g: nn.Module, scale: float) -> None:
        super().__init__()
        self.g, self.scale = g, scale
        self.noise_dim, self.prior = g.noise_dim, g.prior
        self.classes = getattr(g, "classes", 0)  # a conditional G draws each class in turn

    def forward(self, z: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.g(z * self.scale, *labels)


def by_class(inside: torch.Tensor, classes: torch.Tensor) -> list[float]:
    """The fraction of ``inside`` that is True among the points of each class (NaN where a
    class has no points): per-class precision or recall from the per-point masks."""
    return [float(inside[classes == c].double().mean()) if bool((classes == c).any())
            else float("nan") for c in range(CLASSES)]


def breakdown(real: torch.Tensor, real_radii: torch.Tensor, real_labels: torch.Tensor,
              fake: torch.Tensor, fake_logits: torch.Tensor, k: int = 3) -> dict[str, object]:
    """Precision and recall of ``fake`` features against ``real`` ones (whose k-NN radii are
    ``real_radii``), overall and by class (fakes by the class the classifier reads, reals by
    their labels), and the ambiguous share."""
    precision_mask = inside_manifold(fake, real, real_radii)
    recall_mask = inside_manifold(real, fake, knn_radii(fake, k))
    fake_class = fake_logits.argmax(1)
    confidence = fake_logits.softmax(1).max(1).values
    return {
        "precision": float(precision_mask.double().mean()),
        "recall": float(recall_mask.double().mean()),
        "ambiguous": float((confidence < CONFIDENT).double().mean()),
        # what discarding the ambiguous samples would leave
        "precision_confident": float(precision_mask[confidence >= CONFIDENT].double().mean()),
        "share": [float((fake_class == c).double().mean()) for c in range(CLASSES)],
        "precision_by_class": by_class(precision_mask, fake_class),
        "recall_by_class": by_class(recall_mask, real_labels),
    }


class Reference(NamedTuple):
    """The training digits every run is measured against (features, k-NN radii, labels) and
    the test digits' breakdown against them: computed once, whatever the number of runs."""

    feats: torch.Tensor
    radii: torch.Tensor
    labels: torch.Tensor
    test_digits: dict[str, object]


def reference(evaluator: Evaluator) -> Reference:
    """``evaluator``'s reference digits, with their labels, and the test digits' breakdown."""
    feats = evaluator.reference_features()
    radii = knn_radii(feats)
    labels = load_dataset("mnist", "train", evaluator.data_dir).labels[:evaluator.n_reference]
    test, test_logits = evaluator.feature_network.extract(
        evaluator.split("test")[:PAPER_SAMPLES])
    return Reference(feats, radii, labels,
                     breakdown(feats, radii, labels, test, test_logits))


def measure(run: str, evaluator: Evaluator, ref: Reference, raw: bool, seed: int = 0,
            noise_scale: float = 1.0) -> dict[str, dict[str, object]]:
    """The breakdown of a run's samples, beside the test digits' against the same reference."""
    _, state = ckpt.read_checkpoint(ckpt.resolve(run)[0])
    if state["config"]["data"]["name"] != "mnist":
        raise ConfigError(f"{run} was trained on {state['config']['data']['name']}, not MNIST; "
                          "the digit breakdown reads MNIST runs only")
    g = sampling.load_generator(run, raw=raw)
    source = g if noise_scale == 1.0 else NoiseScaled(g, noise_scale)
    samples = sampling.for_display(sampling.sample(source, PAPER_SAMPLES, seed=seed), g)
    fake, fake_logits = evaluator.feature_network.extract(samples)
    return {"generator": breakdown(ref.feats, ref.radii, ref.labels, fake, fake_logits),
            "test digits": ref.test_digits}


def table(name: str, result: dict[str, dict[str, object]]) -> str:
    """One Markdown table: a row per digit, then the overall figures."""
    g, t = result["generator"], result["test digits"]
    lines = [f"### {name}", "",
             "| digit | share of samples | precision | precision, test digits | recall | "
             "recall, test digits |", "|---|---|---|---|---|---|"]
    for c in range(CLASSES):
        lines.append(f"| {c} | {g['share'][c]:.3f} | {g['precision_by_class'][c]:.3f} | "
                     f"{t['precision_by_class'][c]:.3f} | {g['recall_by_class'][c]:.3f} | "
                     f"{t['recall_by_class'][c]:.3f} |")
    lines.append(f"| all | | **{g['precision']:.3f}** | {t['precision']:.3f} | "
                 f"**{g['recall']:.3f}** | {t['recall']:.3f} |")
    lines += ["", f"Read with less than {CONFIDENT} confidence: {g['ambiguous']:.3f} of the "
              f"samples, {t['ambiguous']:.3f} of the test digits. Precision of the others: "
              f"{g['precision_confident']:.3f} (test digits: {t['precision_confident']:.3f})."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (or checkpoints) of MNIST runs")
    parser.add_argument("--raw", action="store_true", help="G itself, not its moving average")
    parser.add_argument("--seed", type=int, default=0, help="the samples' seed (evaluate's: 0)")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="feed G this multiple of its noise (< 1: the truncation trick)")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    evaluator = Evaluator("mnist", metrics=["pr"], progress=False)
    ref = reference(evaluator)
    results = {}
    for run in args.runs:
        results[run] = measure(run, evaluator, ref, args.raw, args.seed, args.noise_scale)
        name = run + (" (raw G)" if args.raw else "") + (
            f" (noise x {args.noise_scale})" if args.noise_scale != 1.0 else "")
        print(table(name, results[run]) + "\n", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    run_script(main)
