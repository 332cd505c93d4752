"""The metric registry: one declaration per metric, from which evaluation, eval.best_by and the
CLI take their names, result keys and directions."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest
import torch
from helpers import tiny_config
from test_architecture import imports, modules_in_cycles

from gankit.cli import build_parser
from gankit.config import EvalConfig
from gankit.errors import ConfigError, GankitError
from gankit.metrics import features as features_mod
from gankit.metrics import registry
from gankit.metrics.evaluate import Evaluator, parse_metrics
from gankit.metrics.network import FeatureNetwork
from gankit.metrics.periodic import PeriodicEvaluation, callbacks_for
from gankit.metrics.registry import Metric, ResultKey, register_metric

# The directions periodic evaluation used before the registry, plus Stacked MNIST's keys.
DIRECTIONS = {"parzen": True, "fid": False, "kid": False, "precision": True, "recall": True,
              "score": True, "modes_kl": False, "stacked_modes": True, "stacked_kl": False}


def test_each_metric_and_result_key_is_declared_once():
    names = registry.metric_names()
    assert names == ("parzen", "fid", "kid", "pr", "score", "modes", "stacked-modes")
    keys = [k for name in names for k in registry.keys_of(name)]
    assert len(keys) == len(set(keys)) == len(registry.result_keys())
    assert registry.keys_of("pr") == ("precision", "recall")
    assert registry.keys_of("modes") == ("modes_kl",)
    assert registry.keys_of("stacked-modes") == ("stacked_modes", "stacked_kl")
    assert {k: registry.metric_writing(k) for k in ("recall", "stacked_kl")} == {
        "recall": "pr", "stacked_kl": "stacked-modes"}


def test_what_each_metric_needs():
    assert registry.names_needing(registry.FEATURES) == {"fid", "kid", "pr", "score", "modes"}
    assert registry.names_needing(registry.CLASSES) == {"score", "modes"}
    assert registry.names_needing(registry.DIGIT_READER) == {"stacked-modes"}
    assert registry.REGISTRY["stacked-modes"].data == "stacked_mnist"
    assert registry.names_for_any_data() == registry.metric_names()[:-1]


def test_registering_a_name_or_key_twice_raises():
    before = dict(registry.REGISTRY)
    again = Metric("parzen", (ResultKey("parzen_again", True),), lambda src, x: [])
    with pytest.raises(GankitError, match="'parzen' is already registered"):
        register_metric(again)
    with pytest.raises(GankitError, match="fid clash"):
        register_metric(Metric("fid2", (ResultKey("fid", False),), lambda src, x: []))
    with pytest.raises(GankitError, match="needs gpu"):
        register_metric(Metric("x", (ResultKey("x", True),), lambda src, x: [],
                               frozenset({"gpu"})))
    assert dict(registry.REGISTRY) == before


def test_directions_are_those_periodic_evaluation_keeps_the_best_by(tmp_path):
    assert {k: v.higher_is_better for k, v in registry.result_keys().items()} == DIRECTIONS
    for key, higher in DIRECTIONS.items():
        metric = registry.metric_writing(key)
        cb = PeriodicEvaluation(EvalConfig(every=1, metrics=metric, best_by=key), "mnist")
        cb.best, cb._best_loaded = 0.0, True
        worse = -1.0 if higher else 1.0  # rejected before any checkpoint is touched
        assert cb._keep_if_best(SimpleNamespace(run_dir=tmp_path), worse) is False
        assert cb._keep_if_best(SimpleNamespace(run_dir=tmp_path), 0.0) is False


def test_best_by_takes_every_result_key_and_refuses_others_even_when_off():
    cfg = tiny_config("eval.every=1", "eval.metrics='stacked-modes'",
                      "eval.best_by='stacked_modes'")
    (cb,) = callbacks_for(cfg)
    assert cb.cfg.best_by == "stacked_modes"
    with pytest.raises(ConfigError, match="eval.best_by = 'bogus' is not one of parzen, ") as e:
        callbacks_for(tiny_config("eval.every=0", "eval.best_by='bogus'"))
    assert "stacked_kl" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="add 'pr' to it"):
        callbacks_for(tiny_config("eval.every=1", "eval.best_by='recall'"))


def _metrics_option() -> argparse.Action:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return next(a for a in sub.choices["evaluate"]._actions if a.dest == "metrics")


def test_cli_metric_names_are_the_registry_names():
    option = _metrics_option()
    listed = option.help.split("subset of ")[1].split()[0].split(",")
    assert tuple(listed) == registry.metric_names()
    assert tuple(parse_metrics(option.default)) == registry.names_for_any_data()


def test_feature_network_names_register_once(monkeypatch):
    monkeypatch.setattr(features_mod, "FEATURE_NETWORKS", dict(features_mod.FEATURE_NETWORKS))
    with pytest.raises(GankitError, match="'mnist-classifier' is already registered"):
        features_mod.register_feature_network("mnist-classifier", lambda path=None: None)
    features_mod.register_feature_network("mine", lambda path=None: None)
    with pytest.raises(GankitError, match="'mine' is already registered"):
        features_mod.register_feature_network("mine", lambda path=None: None)


def _flat(name: str, head: bool) -> FeatureNetwork:
    flat = lambda x: x.flatten(1)  # noqa: E731
    return FeatureNetwork(name, "0" * 64, None, flat, (lambda f: f[:, :10]) if head else None)


def test_rows_come_in_registry_order_grouped_by_feature_need(monkeypatch):
    monkeypatch.setattr(features_mod, "FEATURE_NETWORKS", dict(features_mod.FEATURE_NETWORKS))
    features_mod.register_feature_network("flat", lambda path=None: _flat("flat", True))
    features_mod.register_feature_network("headless", lambda path=None: _flat("headless", False))
    samples = torch.rand(60, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    ev = Evaluator("digits", metrics=["modes", "kid", "parzen"], features="flat", n_reference=80,
                   kid_subsets=3, kid_subset_size=20, n_valid=50, progress=False)
    rows = ev.run(samples)
    assert [r["metric"] for r in rows] == ["parzen", "kid", "modes_kl"]
    assert rows[1]["params"]["n_reference"] == 80 and "n_reference" not in rows[2]["params"]
    ev = Evaluator("digits", metrics=["score"], features="headless", progress=False)
    with pytest.raises(GankitError, match="no classifier head; the score and modes metrics"):
        ev.run(samples)


def test_feature_networks_and_inception_import_no_cycle():
    cycles = [set(group) for group in modules_in_cycles(imports())]
    assert not [g for g in cycles if g & {"gankit.metrics.features", "gankit.metrics.inception"}]
