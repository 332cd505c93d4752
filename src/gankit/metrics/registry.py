"""Every metric declared once: its command-line name, the result keys it writes, which way each
key is better, and what it needs.

The evaluator, periodic evaluation (``eval.best_by``) and the CLI's ``--metrics`` read these
declarations instead of keeping their own lists, so a metric added here is known everywhere.
Names and result keys are unique: registering either twice is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gankit.errors import GankitError
from gankit.metrics import builtin

# What a metric needs besides the samples (``Metric.needs``).
REAL_SPLITS = "real-splits"  # the real validation and test images (Parzen's protocol)
FEATURES = "features"  # the chosen feature network's features of the samples
REFERENCE = "reference"  # ... and of real training images, to compare against
CLASSES = "classes"  # the MNIST classifier's ten classes (its logits)
DIGIT_READER = "digit-reader"  # the shipped MNIST classifier, whatever the feature network
NEEDS = (REAL_SPLITS, FEATURES, REFERENCE, CLASSES, DIGIT_READER)

Compute = Callable[[builtin.Source, builtin.Inputs], list[dict[str, Any]]]


@dataclass(frozen=True)
class ResultKey:
    """A result row's metric name (``eval_<name>`` in the metrics log) and its direction."""

    name: str
    higher_is_better: bool


@dataclass(frozen=True)
class Metric:
    """One metric: ``compute`` returns one row per key, in the order of ``keys``."""

    name: str  # as given to --metrics and eval.metrics
    keys: tuple[ResultKey, ...]
    compute: Compute
    needs: frozenset[str] = frozenset()
    data: str | None = None  # the dataset it is made for (None: any); see Evaluator.fit_to_rgb


REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric``; a name or result key that is already taken raises GankitError."""
    if metric.name in REGISTRY:
        raise GankitError(f"metric {metric.name!r} is already registered; choose another name")
    taken = {k.name for m in REGISTRY.values() for k in m.keys}
    clash = [k.name for k in metric.keys if k.name in taken]
    if clash or not metric.keys or len({k.name for k in metric.keys}) < len(metric.keys):
        raise GankitError(f"metric {metric.name!r} must write distinct result keys that no "
                          f"other metric writes; {', '.join(clash) or 'its keys'} clash")
    unknown = metric.needs - set(NEEDS)
    if unknown:
        raise GankitError(f"metric {metric.name!r} needs {', '.join(sorted(unknown))}, which "
                          f"the evaluator does not provide; choose from {', '.join(NEEDS)}")
    REGISTRY[metric.name] = metric
    return metric


def metric_names() -> tuple[str, ...]:
    """The command-line names, in registration order."""
    return tuple(REGISTRY)


def names_for_any_data() -> tuple[str, ...]:
    """The metrics not made for one dataset: what `gankit evaluate` computes by default."""
    return tuple(m.name for m in REGISTRY.values() if m.data is None)


def names_needing(need: str) -> frozenset[str]:
    return frozenset(m.name for m in REGISTRY.values() if need in m.needs)


def keys_of(name: str) -> tuple[str, ...]:
    """The result keys metric ``name`` writes."""
    return tuple(k.name for k in REGISTRY[name].keys)


def result_keys() -> dict[str, ResultKey]:
    """Every result key any metric writes, by name, in registration order."""
    return {k.name: k for m in REGISTRY.values() for k in m.keys}


def metric_writing(key: str) -> str:
    """The name of the metric that writes result key ``key`` (KeyError if none does)."""
    for m in REGISTRY.values():
        if key in keys_of(m.name):
            return m.name
    raise KeyError(key)


def higher_is_better(key: str) -> bool:
    return result_keys()[key].higher_is_better


def _register_builtins() -> None:
    up, down = True, False
    for name, keys, compute, needs, data in (
        ("parzen", {"parzen": up}, builtin.parzen_rows, {REAL_SPLITS}, None),
        ("fid", {"fid": down}, builtin.fid_rows, {FEATURES, REFERENCE}, None),
        ("kid", {"kid": down}, builtin.kid_rows, {FEATURES, REFERENCE}, None),
        ("pr", {"precision": up, "recall": up}, builtin.pr_rows,
         {FEATURES, REFERENCE}, None),
        ("score", {"score": up}, builtin.score_rows, {FEATURES, CLASSES}, None),
        ("modes", {"modes_kl": down}, builtin.modes_rows, {FEATURES, CLASSES}, None),
        ("stacked-modes", {"stacked_modes": up, "stacked_kl": down}, builtin.stacked_modes_rows,
         {DIGIT_READER}, "stacked_mnist"),
    ):
        register_metric(Metric(name, tuple(ResultKey(k, v) for k, v in keys.items()), compute,
                               frozenset(needs), data))


_register_builtins()
