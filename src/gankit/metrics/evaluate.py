"""Run a chosen set of metrics on generated images and write the results as JSON.

The ``Evaluator`` loads the real data and the feature network once and caches the reference
features, so that periodic evaluation during training pays for them once. Results are rows
``{"metric", "value", "error", "params"}``; docs/evaluation.md describes the JSON file.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit.data import load_dataset
from gankit.errors import ConfigError, GankitError
from gankit.io.atomic import write_text_atomic
from gankit.metrics.features import FeatureNetwork, load_feature_network
from gankit.metrics.fid import fid
from gankit.metrics.kid import kid
from gankit.metrics.parzen import PAPER_SIGMAS, PAPER_VALID, parzen_protocol
from gankit.metrics.prc import precision_recall
from gankit.metrics.score import class_histogram, classifier_score, kl_to_uniform
from gankit.metrics.stacked_modes import STACKED_SAMPLES, stacked_modes

METRICS = ("parzen", "fid", "kid", "pr", "score", "modes", "stacked-modes")
FEATURE_METRICS = frozenset({"fid", "kid", "pr", "score", "modes"})
# Each result row's metric name and whether larger values are better.
HIGHER_IS_BETTER = {"parzen": True, "fid": False, "kid": False, "precision": True,
                    "recall": True, "score": True, "modes_kl": False, "stacked_modes": True,
                    "stacked_kl": False}
FORMAT = "gankit-eval/1"
PAPER_SAMPLES = 10_000  # the paper's Parzen sample count, the default of the other metrics
MNIST_HEAD = frozenset({"score", "modes"})  # need the MNIST classifier's ten classes


def parse_metrics(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"parzen,fid"`` (or a list) -> checked, de-duplicated metric names in the given order."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in dict.fromkeys(names) if n]
    bad = [n for n in names if n not in METRICS]
    if bad or not names:
        raise ConfigError(f"unknown metric(s) {', '.join(bad) or '(none given)'}; choose from "
                          + ", ".join(METRICS))
    return names


@dataclass
class Evaluator:
    """Metrics of generated images against one dataset's real images."""

    dataset: str = "mnist"
    data_dir: str | None = None
    metrics: list[str] = field(default_factory=lambda: list(METRICS))
    n_reference: int = 10_000  # real training images the feature metrics compare against
    features: str = "mnist-classifier"
    features_path: str | None = None
    sigmas: tuple[float, ...] = PAPER_SIGMAS
    n_valid: int = PAPER_VALID
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    progress: bool = True
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.metrics = parse_metrics(self.metrics)

    def _split(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            self._cache[name] = load_dataset(self.dataset, name, self.data_dir).images
        return self._cache[name]

    @property
    def feature_network(self) -> FeatureNetwork:
        if "net" not in self._cache:
            self._cache["net"] = load_feature_network(self.features, self.features_path)
        return self._cache["net"]

    def fit_to_rgb(self) -> str | None:
        """On RGB data, measure FID/KID/PR in Inception space, or fall back without it.

        The MNIST classifier reads grey digits only: its space and its ten classes (score,
        modes) do not apply. If the Inception network cannot be loaded (no torch-fidelity, no
        weights file), the metrics that need no downloaded weights are computed instead: parzen,
        and stacked-modes on Stacked MNIST. Returns a one-line note of what changed, or None.
        """
        if self.features == "mnist-classifier":
            self.features = "inception"
        head = [m for m in self.metrics if m in MNIST_HEAD]
        feature = [m for m in self.metrics if m in FEATURE_METRICS - MNIST_HEAD]
        keep = [m for m in self.metrics if m not in FEATURE_METRICS]
        reason, failed = "", False
        if feature:
            try:
                self.feature_network  # noqa: B018 (loads and caches it, or says why not)
                keep = [m for m in self.metrics if m not in MNIST_HEAD]
            except GankitError as exc:
                failed = True
                reason = f"{', '.join(feature)} not computed: {' '.join(str(exc).split())}"
        if head:
            reason += ("; " if reason else "") + (f"{', '.join(head)} not computed: they need "
                                                  "the MNIST classifier's ten classes")
        if not reason:
            return None
        if failed or not keep:  # fall back to what needs no downloaded weights
            keep += [m for m in ("parzen", "stacked-modes") if m not in keep
                     and (m == "parzen" or self.dataset == "stacked_mnist")]
        self.metrics = keep
        return f"gankit: note: RGB data: {reason}; computing {', '.join(keep)}"

    @property
    def mnist_classifier(self) -> FeatureNetwork:
        """The shipped MNIST classifier, whatever ``features`` is: stacked-modes' digit reader."""
        if self.features == "mnist-classifier":
            return self.feature_network
        if "mnist" not in self._cache:
            self._cache["mnist"] = load_feature_network("mnist-classifier")
        return self._cache["mnist"]

    def _reference_features(self) -> torch.Tensor:
        if "ref" not in self._cache:
            real = self._split("train")[:self.n_reference]
            self._cache["ref"] = self.feature_network.extract(real, self.progress)[0]
        return self._cache["ref"]

    def run(self, samples: torch.Tensor) -> list[dict[str, Any]]:
        """Result rows for ``samples`` (N, C, H, W) in [0, 1]."""
        samples = samples.detach().float().cpu()
        rows: list[dict[str, Any]] = []
        if "parzen" in self.metrics:
            r = parzen_protocol(samples, self._split("valid"), self._split("test"), self.sigmas,
                                self.n_valid, progress=self.progress)
            rows.append(_row("parzen", r.mean, r.se, sigma=r.sigma, sigmas=r.sigmas,
                             valid_means=r.valid_means, n_samples=r.n_samples,
                             n_valid=r.n_valid, n_test=r.n_test, split="test"))
        if "stacked-modes" in self.metrics:
            m = stacked_modes(samples, self.mnist_classifier, self.progress)
            params = {"n_samples": m.n_samples, "modes_total": m.modes_total,
                      "largest_mode": m.largest_mode, "classifier": "mnist-classifier",
                      "classifier_sha256": self.mnist_classifier.digest}
            rows.append(_row("stacked_modes", m.modes_covered, None, **params))
            rows.append(_row("stacked_kl", m.kl_to_uniform, None, **params))
        wanted = FEATURE_METRICS.intersection(self.metrics)
        if not wanted:
            return rows
        net = self.feature_network
        feats, logits = net.extract(samples, self.progress)
        counts: dict[str, Any] = {}
        if wanted - MNIST_HEAD:  # the figures measured against real images say which ones
            n_ref = len(self._reference_features())
            counts = {"n_samples": len(samples), "n_reference": n_ref,
                      "reference": f"{self.dataset} train[:{n_ref}]"}
            if net.preprocess:
                counts["preprocess"] = net.preprocess(tuple(samples.shape[1:]))
        if "fid" in self.metrics:
            rows.append(_row("fid", fid(self._reference_features(), feats), None, **counts))
        if "kid" in self.metrics:
            value, err = kid(self._reference_features(), feats, self.kid_subsets,
                             self.kid_subset_size, progress=self.progress)
            rows.append(_row("kid", value, err, subsets=self.kid_subsets,
                             subset_size=self.kid_subset_size, **counts))
        if "pr" in self.metrics:
            p, r = precision_recall(self._reference_features(), feats, self.pr_k,
                                    self.progress)
            rows.append(_row("precision", p, None, k=self.pr_k, **counts))
            rows.append(_row("recall", r, None, k=self.pr_k, **counts))
        if {"score", "modes"} & wanted and logits is None:
            raise GankitError(f"feature network {net.name} has no classifier head; the score "
                              "and modes metrics need one")
        if "score" in self.metrics:
            value, err = classifier_score(logits)
            rows.append(_row("score", value, err, splits=10, n_samples=len(samples)))
        if "modes" in self.metrics:
            hist = class_histogram(logits)
            rows.append(_row("modes_kl", kl_to_uniform(hist), None, histogram=hist,
                             n_samples=len(samples)))
        return rows


def _row(metric: str, value: float, error: float | None, **params: Any) -> dict[str, Any]:
    return {"metric": metric, "value": float(value),
            "error": None if error is None else float(error), "params": params}


def run_dir_of(checkpoint: Path) -> Path:
    """RUN for RUN/checkpoints/NAME; the parent folder for any other checkpoint folder."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" \
        else checkpoint.parent


def evaluate_checkpoint(source: str | Path, metrics: str | list[str] = METRICS,
                        n_samples: int | None = None, seed: int = 0, data_dir: str | None = None,
                        out: str | Path | None = None, progress: bool = True,
                        features: str = "mnist-classifier", features_path: str | None = None
                        ) -> tuple[dict[str, Any], Path]:
    """Evaluate a run's latest (or a given) checkpoint; write RUN/eval/<checkpoint>.json.

    ``n_samples`` defaults to 10,000 (the paper's), or 26,000 when stacked-modes is computed.
    On RGB data the metrics are first fitted to it (``Evaluator.fit_to_rgb``); its note is
    printed to stderr and kept in the report.
    """
    from gankit import api
    from gankit import checkpoint as ckpt
    from gankit.runs import versions

    path, _ = ckpt.resolve(source)
    _, state = ckpt.read_checkpoint(path)
    dataset = state["config"]["data"]["name"]
    data_dir = data_dir or state["config"]["data"].get("data_dir") or None
    evaluator = Evaluator(dataset, data_dir, parse_metrics(metrics), features=features,
                          features_path=features_path, progress=progress)
    note = evaluator.fit_to_rgb() if state["image_shape"][0] == 3 else None
    if note:
        print(note, file=sys.stderr)
    if n_samples is None:
        n_samples = STACKED_SAMPLES if "stacked-modes" in evaluator.metrics else PAPER_SAMPLES
    start = time.perf_counter()
    # In [0, 1] like the reference images, whatever G's output unit (tanh: (x + 1) / 2).
    samples = api.for_display(api.sample(path, n_samples, seed=seed), path)
    rows = evaluator.run(samples)
    report: dict[str, Any] = {
        "format": FORMAT, "checkpoint": str(path), "step": state["step"],
        "epoch": state["epoch"], "dataset": dataset, "n_samples": n_samples, "seed": seed,
        "results": rows, "notes": [note] if note else [],
        "seconds": round(time.perf_counter() - start, 2), "versions": versions()}
    if FEATURE_METRICS.intersection(evaluator.metrics):
        net = evaluator.feature_network
        report["feature_network"] = {"name": net.name, "sha256": net.digest}
    target = Path(out) if out else run_dir_of(path) / "eval" / f"{path.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.dumps(report, indent=1) + "\n")
    return report, target


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'metric':<10} {'value':>12} {'error':>10}  notes"]
    for r in rows:
        err = "" if r["error"] is None else f"{r['error']:.4g}"
        p = r["params"]
        note = (f"sigma {p['sigma']:.4f}" if r["metric"] == "parzen"
                else f"histogram {p['histogram']}" if r["metric"] == "modes_kl"
                else f"of {p['modes_total']} modes in {p['n_samples']} samples"
                if r["metric"] == "stacked_modes" else "")
        lines.append(f"{r['metric']:<10} {r['value']:>12.5g} {err:>10}  {note}".rstrip())
    return "\n".join(lines)
