"""How each built-in metric turns samples into result rows; gankit.metrics.registry declares
them (names, keys, directions, needs).

A row is ``{"metric", "value", "error", "params"}`` (docs/evaluation.md). The functions read
the evaluator's settings and cached real data through ``Source``, and the samples' features,
computed once for all feature metrics, through ``Inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from gankit.metrics import fid, kid, parzen, prc, score
from gankit.metrics import stacked_modes as stacked
from gankit.metrics.network import FeatureNetwork

Row = dict[str, Any]


class Source(Protocol):
    """The evaluator's settings and cached real data that the metrics read."""

    sigmas: tuple[float, ...]
    n_valid: int
    kid_subsets: int
    kid_subset_size: int
    pr_k: int
    progress: bool

    def split(self, name: str) -> torch.Tensor: ...

    def reference_features(self) -> torch.Tensor: ...

    @property
    def mnist_classifier(self) -> FeatureNetwork: ...


@dataclass
class Inputs:
    """The samples and, when a feature metric is computed, their features and logits."""

    samples: torch.Tensor
    feats: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    # What the figures measured against real images record: sample and reference counts.
    counts: dict[str, Any] = field(default_factory=dict)


def row(metric: str, value: float, error: float | None, **params: Any) -> Row:
    return {"metric": metric, "value": float(value),
            "error": None if error is None else float(error), "params": params}


def parzen_rows(src: Source, x: Inputs) -> list[Row]:
    r = parzen.parzen_protocol(x.samples, src.split("valid"), src.split("test"), src.sigmas,
                               src.n_valid, progress=src.progress)
    return [row("parzen", r.mean, r.se, sigma=r.sigma, sigmas=r.sigmas,
                valid_means=r.valid_means, n_samples=r.n_samples, n_valid=r.n_valid,
                n_test=r.n_test, split="test")]


def stacked_modes_rows(src: Source, x: Inputs) -> list[Row]:
    m = stacked.stacked_modes(x.samples, src.mnist_classifier, src.progress)
    params = {"n_samples": m.n_samples, "modes_total": m.modes_total,
              "largest_mode": m.largest_mode, "channel_kl": list(m.channel_kl),
              "classifier": "mnist-classifier",
              "classifier_sha256": src.mnist_classifier.digest}
    return [row("stacked_modes", m.modes_covered, None, **params),
            row("stacked_kl", m.kl_to_uniform, None, **params)]


def fid_rows(src: Source, x: Inputs) -> list[Row]:
    return [row("fid", fid.fid(src.reference_features(), x.feats), None, **x.counts)]


def kid_rows(src: Source, x: Inputs) -> list[Row]:
    value, err = kid.kid(src.reference_features(), x.feats, src.kid_subsets,
                         src.kid_subset_size, progress=src.progress)
    return [row("kid", value, err, subsets=src.kid_subsets, subset_size=src.kid_subset_size,
                **x.counts)]


def pr_rows(src: Source, x: Inputs) -> list[Row]:
    p, r = prc.precision_recall(src.reference_features(), x.feats, src.pr_k, src.progress)
    return [row("precision", p, None, k=src.pr_k, **x.counts),
            row("recall", r, None, k=src.pr_k, **x.counts)]


def score_rows(src: Source, x: Inputs) -> list[Row]:
    value, err = score.classifier_score(x.logits)
    return [row("score", value, err, splits=10, n_samples=len(x.samples))]


def modes_rows(src: Source, x: Inputs) -> list[Row]:
    hist = score.class_histogram(x.logits)
    return [row("modes_kl", score.kl_to_uniform(hist), None, histogram=hist,
                n_samples=len(x.samples))]
