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

from gankit import sampling
from gankit.data import load_dataset
from gankit.errors import ConfigError, GankitError
from gankit.io.atomic import write_text_atomic
from gankit.metrics.builtin import Inputs
from gankit.metrics.features import TRAINED, FeatureNetwork, load_feature_network, resolve_name
from gankit.metrics.parzen import PAPER_SIGMAS, PAPER_VALID
from gankit.metrics.registry import (
    CLASSES,
    DIGIT_READER,
    FEATURES,
    REAL_SPLITS,
    REFERENCE,
    REGISTRY,
    Metric,
    metric_names,
    names_needing,
)
from gankit.metrics.stacked_modes import STACKED_SAMPLES

FORMAT = "gankit-eval/1"
PAPER_SAMPLES = 10_000  # the paper's Parzen sample count, the default of the other metrics


def parse_metrics(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"parzen,fid"`` (or a list) -> checked, de-duplicated metric names in the given order."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in dict.fromkeys(names) if n]
    bad = [n for n in names if n not in REGISTRY]
    if bad or not names:
        raise ConfigError(f"unknown metric(s) {', '.join(bad) or '(none given)'}; choose from "
                          + ", ".join(metric_names()))
    return names


@dataclass
class Evaluator:
    """Metrics of generated images against one dataset's real images."""

    dataset: str = "mnist"
    data_dir: str | None = None
    metrics: list[str] = field(default_factory=lambda: list(metric_names()))
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
        # A weights file from `gankit train-classifier --set ...` names its own network.
        self.features = resolve_name(self.features, self.features_path)

    def split(self, name: str) -> torch.Tensor:
        """A split of the real images, loaded once."""
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
        needs_features, needs_classes = names_needing(FEATURES), names_needing(CLASSES)
        head = [m for m in self.metrics if m in needs_classes]
        feature = [m for m in self.metrics if m in needs_features - needs_classes]
        keep = [m for m in self.metrics if m not in needs_features]
        reason, failed = "", False
        if feature:
            try:
                self.feature_network  # noqa: B018 (loads and caches it, or says why not)
                keep = [m for m in self.metrics if m not in needs_classes]
            except GankitError as exc:
                failed = True
                reason = f"{', '.join(feature)} not computed: {' '.join(str(exc).split())}"
        if head:
            reason += ("; " if reason else "") + (f"{', '.join(head)} not computed: they need "
                                                  "the MNIST classifier's ten classes")
        if not reason:
            return None
        if failed or not keep:  # fall back to what needs no downloaded weights
            keep += [m.name for m in REGISTRY.values() if m.name not in keep
                     and m.name not in needs_features and m.data in (None, self.dataset)]
        self.metrics = keep
        return f"gankit: note: RGB data: {reason}; computing {', '.join(keep)}"

    def fit_to_network(self) -> str | None:
        """A trained network without a classifier head (an autoencoder) measures FID, KID and
        PR; score and modes are left out with a note (asked for alone, they fail in run)."""
        head = [m for m in self.metrics if m in names_needing(CLASSES)]
        keep = [m for m in self.metrics if m not in head]
        if not head or not keep or self.feature_network.logits_fn is not None:
            return None
        self.metrics = keep
        return (f"gankit: note: {self.feature_network.name} has no classifier head: "
                f"{', '.join(head)} not computed")

    def use_folder(self, data: dict[str, Any], shape: tuple[int, ...]) -> str | None:
        """A run trained on an image folder: the folder, at the run's size and colour, is the
        reference; the real validation and test splits that Parzen's protocol needs do not
        exist, so the metrics needing them are left out with a note."""
        from gankit.data.folder import load_folder

        color = "grey" if shape[0] == 1 else "rgb"
        self._cache["train"] = load_folder(data["path"], shape[1], color).images
        splits = [m for m in self.metrics if m in names_needing(REAL_SPLITS)]
        if not splits:
            return None
        self.metrics = [m for m in self.metrics if m not in splits]
        if not self.metrics:
            raise GankitError(f"an image folder has no validation or test split for "
                              f"{', '.join(splits)}; measure the run with --metrics fid,kid,pr "
                              "and a feature network for its images (--features-path NET "
                              "from `gankit train-classifier --set data.name='\"folder\"' ...`)")
        return (f"gankit: note: an image folder has no validation or test split: "
                f"{', '.join(splits)} not computed; computing {', '.join(self.metrics)}")

    @property
    def mnist_classifier(self) -> FeatureNetwork:
        """The shipped MNIST classifier, whatever ``features`` is: stacked-modes' digit reader."""
        if self.features == "mnist-classifier":
            return self.feature_network
        if "mnist" not in self._cache:
            self._cache["mnist"] = load_feature_network("mnist-classifier")
        return self._cache["mnist"]

    def prepare(self, image_shape: tuple[int, ...]) -> None:
        """Load what the chosen metrics read (real splits, feature networks) and check that
        it takes samples of ``image_shape``: a missing data or weights file, or a network made
        for other data, then fails before any sample is generated. All of it is cached."""
        needs = {need for m in self.metrics for need in REGISTRY[m].needs}
        for split, need in (("valid", REAL_SPLITS), ("test", REAL_SPLITS), ("train", REFERENCE)):
            if need in needs:
                self.split(split)
        if FEATURES in needs:
            self.feature_network.check(torch.empty(0, *image_shape))
        if DIGIT_READER in needs:
            self.mnist_classifier  # noqa: B018 (loads and caches it, or says why not)

    def reference_features(self) -> torch.Tensor:
        """Features of the first ``n_reference`` real training images, computed once."""
        if "ref" not in self._cache:
            real = self.split("train")[:self.n_reference]
            self._cache["ref"] = self.feature_network.extract(real, self.progress)[0]
        return self._cache["ref"]

    def run(self, samples: torch.Tensor) -> list[dict[str, Any]]:
        """Result rows for ``samples`` (N, C, H, W) in [0, 1].

        The metrics that need no feature network come first, then the feature metrics, each
        group in registration order, whatever order ``metrics`` names them in.
        """
        x = Inputs(samples.detach().float().cpu())
        chosen = [m for m in REGISTRY.values() if m.name in self.metrics]
        chosen.sort(key=lambda m: FEATURES in m.needs)
        if any(FEATURES in m.needs for m in chosen):
            self._extract(x, chosen)
        return [r for m in chosen for r in m.compute(self, x)]

    def _extract(self, x: Inputs, chosen: list[Metric]) -> None:
        """The samples' features and logits, and the counts the reference metrics record."""
        net = self.feature_network
        x.feats, x.logits = net.extract(x.samples, self.progress)
        if any(REFERENCE in m.needs for m in chosen):
            n_ref = len(self.reference_features())
            x.counts = {"n_samples": len(x.samples), "n_reference": n_ref,
                        "reference": f"{self.dataset} train[:{n_ref}]"}
            if net.preprocess:
                x.counts["preprocess"] = net.preprocess(tuple(x.samples.shape[1:]))
        if x.logits is None and any(CLASSES in m.needs for m in chosen):
            head = " and ".join(m for m in REGISTRY if m in names_needing(CLASSES))
            raise GankitError(f"feature network {net.name} has no classifier head; the {head} "
                              "metrics need one")


def run_dir_of_checkpoint(checkpoint: Path) -> Path:
    """RUN for RUN/checkpoints/NAME; the parent folder for any other checkpoint folder."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" \
        else checkpoint.parent


def evaluate_checkpoint(source: str | Path, metrics: str | list[str] | None = None,
                        n_samples: int | None = None, seed: int = 0, data_dir: str | None = None,
                        out: str | Path | None = None, progress: bool = True,
                        features: str = "mnist-classifier", features_path: str | None = None,
                        raw: bool = False) -> tuple[dict[str, Any], Path]:
    """Evaluate a run's latest (or a given) checkpoint; write RUN/eval/<checkpoint>.json.

    ``n_samples`` defaults to 10,000 (the paper's), or 26,000 when stacked-modes is computed.
    On RGB data the metrics are first fitted to it (``Evaluator.fit_to_rgb``); its note is
    printed to stderr and kept in the report. A run with ``train.ema`` is scored through G's
    moving average unless ``raw`` (then written to RUN/eval/<checkpoint>-raw.json); the report's
    "generator" says which.
    """
    from gankit.io import checkpoint as ckpt
    from gankit.io.run_dir import versions

    path, _ = ckpt.resolve(source)
    tensors, state = ckpt.read_checkpoint(path)
    generator = sampling.generator_kind(tensors, raw)
    dataset = state["config"]["data"]["name"]
    data_dir = data_dir or state["config"]["data"].get("data_dir") or None
    chosen = parse_metrics(metric_names() if metrics is None else metrics)
    evaluator = Evaluator(dataset, data_dir, chosen, features=features,
                          features_path=features_path, progress=progress)
    shape = tuple(state["image_shape"])
    notes = [evaluator.fit_to_rgb() if shape[0] == 3 and evaluator.features != TRAINED
             else None, evaluator.use_folder(state["config"]["data"], shape)
             if dataset == "folder" else None,
             evaluator.fit_to_network() if evaluator.features == TRAINED else None]
    notes = [n for n in notes if n]
    for note in notes:
        print(note, file=sys.stderr)
    evaluator.prepare(shape)
    name = path.name + ("-raw" if raw else "")
    target = Path(out) if out else run_dir_of_checkpoint(path) / "eval" / f"{name}.json"
    try:  # an unwritable --out is refused before the work, not after it
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot write {target}: {exc.strerror}; choose another --out") \
            from None
    if n_samples is None:
        n_samples = STACKED_SAMPLES if "stacked-modes" in evaluator.metrics else PAPER_SAMPLES
    start = time.perf_counter()
    # In [0, 1] like the reference images, whatever G's output unit (tanh: (x + 1) / 2).
    samples = sampling.for_display(sampling.sample(path, n_samples, seed=seed, raw=raw), path)
    rows = evaluator.run(samples)
    report: dict[str, Any] = {
        "format": FORMAT, "checkpoint": str(path), "step": state["step"],
        "epoch": state["epoch"], "dataset": dataset, "n_samples": n_samples, "seed": seed,
        "generator": generator,
        "results": rows, "notes": notes,
        "seconds": round(time.perf_counter() - start, 2), "versions": versions()}
    if names_needing(FEATURES).intersection(evaluator.metrics):
        net = evaluator.feature_network
        report["feature_network"] = {"name": net.name, "sha256": net.digest}
    write_text_atomic(target, json.dumps(report, indent=1) + "\n")
    return report, target


def _note(r: dict[str, Any]) -> str:
    """The notes column of one metric's row: what its value rests on."""
    p, metric = r["params"], r["metric"]
    if metric == "parzen":
        return f"sigma {p['sigma']:.4f}"
    if metric == "modes_kl":
        return f"histogram {p['histogram']}"
    if metric == "stacked_modes":
        return f"of {p['modes_total']} modes in {p['n_samples']} samples"
    if metric == "stacked_kl":
        return "KL of the R, G, B digit frequencies " + " / ".join(
            f"{v:.3f}" for v in p["channel_kl"])
    return ""


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'metric':<10} {'value':>12} {'error':>10}  notes"]
    for r in rows:
        err = "" if r["error"] is None else f"{r['error']:.4g}"
        lines.append(f"{r['metric']:<10} {r['value']:>12.5g} {err:>10}  {_note(r)}".rstrip())
    return "\n".join(lines)
