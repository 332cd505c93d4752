"""The stable presets (ring8-stable, grid25-stable) load, validate and train a few steps through
the ordinary API; benchmarks/stable.py scores a run and its ablation variants each change the
preset. Their measured results live in docs/stabilisers.md, not here: nothing below is timed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import load_benchmark

import gankit
from gankit.config import build_config
from gankit.games import check_config
from gankit.presets import preset_names, preset_summary
from gankit.sampling import generator_kind, load_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STABLE = {"ring8-stable": "ring8", "grid25-stable": "grid25"}
FEW = ["train.max_steps=3", "train.batch_size=32", "report.html=false",
       "monitor.collapse_every=0"]


@pytest.mark.parametrize("name, dataset", STABLE.items())
def test_preset_is_listed_valid_and_sets_its_own_budget(name, dataset):
    assert name in preset_names() and preset_summary(name)
    cfg = build_config(name)
    check_config(cfg)
    assert cfg.data.name == dataset and cfg.model.arch == "toy"
    assert cfg.train.max_steps > 0 and cfg.train.epochs == 0  # a budget of its own
    assert cfg.game.loss == "rpgan" and cfg.reg.r1 > 0 and cfg.reg.r2 > 0 and cfg.train.ema > 0
    assert build_config(f"toy-{dataset}").data.name == dataset  # the problem, kept as it was


@pytest.mark.parametrize("name", STABLE)
def test_preset_trains_a_few_steps_and_samples_from_its_ema(tmp_path, name):
    result = gankit.train(name, out=tmp_path / "run", sets=FEW, progress=False)
    assert result.step == 3 and result.checkpoint is not None
    ema = load_generator(tmp_path / "run")
    raw = load_generator(tmp_path / "run", raw=True)
    assert any(not torch.equal(a, b) for a, b in zip(ema.parameters(), raw.parameters(),
                                                     strict=True))
    from gankit.io import checkpoint as ckpt
    _, tensors, _, _ = ckpt.load_players(result.checkpoint, "gan", "")
    assert generator_kind(tensors) == "ema"
    points = gankit.sample(tmp_path / "run", 50, seed=0)
    assert points.shape == (50, 2) and torch.isfinite(points).all()


@pytest.fixture
def stable_bench(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    return load_benchmark("stable")


def test_benchmark_scores_a_run_and_reads_it_back(tmp_path, stable_bench, monkeypatch):
    row = stable_bench.run_seed("ring8-stable", 3, FEW, tmp_path / "run")
    assert row["seed"] == 3 and row["steps"] == 3 and row["modes_total"] == 8
    assert 0 <= row["high_quality"] <= 1 and row["cpu_seconds"] >= 0
    monkeypatch.setitem(stable_bench.ABLATIONS, "preset", ("the preset, briefly", FEW))
    first = stable_bench.measure("ring8-stable", "preset", [0], tmp_path)
    assert (tmp_path / "ring8-stable.json").exists() and len(first["runs"]) == 1
    monkeypatch.setattr(stable_bench, "run_seed", lambda *a: pytest.fail("trained again"))
    assert stable_bench.measure("ring8-stable", "preset", [0], tmp_path) == first


@pytest.mark.parametrize("name", STABLE)
def test_every_ablation_variant_changes_the_preset(stable_bench, name):
    for variant in list(stable_bench.ABLATIONS)[1:]:
        sets = stable_bench.variant_sets(name, variant)
        assert stable_bench.changes_preset(name, sets), variant
        check_config(build_config(name, sets=sets))
