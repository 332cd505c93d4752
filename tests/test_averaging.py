"""Polyak averaging of generators across checkpoints (`gankit average`)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
from helpers import load_benchmark, tiny_config

import gankit
from gankit.cli import main
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("avg") / "run"
    # D starts larger than the paper's +-0.005 so that G moves visibly within three epochs.
    gankit.train(config=tiny_config("train.epochs=3", "train.keep_checkpoints=0",
                                    "model.d_init_range=0.1"), out=out, progress=False)
    return out


def checkpoints(run):
    return ckpt.list_checkpoints(run / "checkpoints")


def test_the_average_holds_the_float64_mean_of_the_generators(run, tmp_path):
    sources = checkpoints(run)
    assert len(sources) == 3
    # Given newest first: the result does not depend on the order.
    path = gankit.average_generators(list(reversed(sources)), tmp_path / "avg")
    tensors, state = ckpt.read_checkpoint(path)
    weights = [ckpt.read_checkpoint(s)[0] for s in sources]
    g_keys = sorted(k for k in weights[0] if k.startswith("G/"))
    assert sorted(tensors) == g_keys  # no discriminator, optimiser or RNG state
    for key in g_keys:
        mean = sum(w[key].double() for w in weights) / 3
        assert torch.equal(tensors[key], mean.float())
        assert not torch.equal(tensors[key], weights[-1][key])  # the epochs differ
    steps = [ckpt.read_checkpoint(s)[1]["step"] for s in sources]
    assert [m["step"] for m in state["averaged_from"]] == steps
    assert state["step"] == steps[-1] and state["epoch"] == 3


def test_sampling_the_average_is_sampling_hand_averaged_weights(run, tmp_path):
    sources = checkpoints(run)[1:]
    gankit.average_generators(sources, tmp_path / "avg")
    by_hand = gankit.load_generator(sources[-1])
    nets = [gankit.load_generator(s) for s in sources]
    by_hand.load_state_dict({k: (nets[0].state_dict()[k] + nets[1].state_dict()[k]) / 2
                             for k in by_hand.state_dict()})
    got = gankit.sample(tmp_path / "avg", 64, seed=3)
    assert torch.allclose(got, gankit.sample(by_hand, 64, seed=3), atol=1e-6)
    assert (got - gankit.sample(sources[-1], 64, seed=3)).abs().max() > 1e-3


def test_refusals_name_the_problem_and_write_nothing(run, tmp_path):
    sources = checkpoints(run)
    with pytest.raises(GankitError, match="at least two checkpoints"):
        gankit.average_generators(sources[:1], tmp_path / "a")
    with pytest.raises(GankitError, match="is given twice"):
        gankit.average_generators([sources[0], sources[1], sources[0]], tmp_path / "b")
    other = tmp_path / "other"
    gankit.train(config=tiny_config("train.epochs=1", "model.d_init_range=0.1",
                                    "model.g_hidden=[32, 64]"), out=other,
                 progress=False)
    with pytest.raises(CheckpointError, match=r"model\.g_hidden differ"):
        gankit.average_generators([sources[0], other], tmp_path / "c")
    seed1 = tmp_path / "seed1"
    gankit.train(config=tiny_config("train.epochs=1", "model.d_init_range=0.1", "train.seed=1"),
                 out=seed1, progress=False)
    with pytest.raises(CheckpointError, match=r"train\.seed differ \(1 vs 0\)"):
        gankit.average_generators([sources[0], seed1], tmp_path / "d")
    assert not any((tmp_path / name).exists() for name in "abcd")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(GankitError, match="already exists and is not empty"):
        gankit.average_generators(sources, kept)
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def test_an_average_is_neither_resumed_nor_averaged_again(run, tmp_path):
    out = tmp_path / "avg"
    path = gankit.average_generators(checkpoints(run), out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="is an average of generators"):
        gankit.resume(out, progress=False)
    with pytest.raises(GankitError, match="already an average"):
        gankit.average_generators([path, checkpoints(run)[0]], tmp_path / "again")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_average_then_evaluate(run, tmp_path, capsys):
    out = tmp_path / "avg"
    assert main(["average", *map(str, checkpoints(run)), "--out", str(out)]) == 0
    assert "averaged over 3 checkpoints" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--metrics", "parzen", "--samples", "200",
                 "--quiet"]) == 0
    report = json.loads((out / "eval" / "average.json").read_text())
    assert report["results"][0]["metric"] == "parzen" and report["n_samples"] == 200
    assert main(["average", str(checkpoints(run)[0]), "--out", str(tmp_path / "x")]) == 2
    assert "gankit: error: averaging needs at least two" in capsys.readouterr().err


def test_table1_average_averages_each_rows_second_half(run, tmp_path, monkeypatch):
    table = tmp_path / "table"
    rows = []
    for minutes, source in zip((1, 2, 3), checkpoints(run), strict=True):
        shutil.copytree(source, table / "budgets" / f"{minutes}min")
        state = ckpt.read_checkpoint(source)[1]
        rows.append({"budget_min": minutes, "epoch": state["epoch"], "step": state["step"],
                     "parzen_mean": 0.0})
    (table / "table1.json").write_text(json.dumps(rows))
    monkeypatch.setattr(sys, "argv", ["table1_average.py", str(table)])
    load_benchmark("table1_average").main()
    got = json.loads((table / "table1-average.json").read_text())
    # Epoch 1 has no second half of two checkpoints; epoch 2 averages 1-2, epoch 3 averages 2-3.
    assert [(r["budget_min"], r["averaged_epochs"]) for r in got] == [(2, [1, 2]), (3, [2, 3])]
    for r in got:
        report = json.loads((table / "averages" / f"{r['budget_min']}min" / "eval" /
                             "average.json").read_text())
        assert report["results"][0]["value"] == r["parzen_mean"]
        assert report["n_samples"] == 10_000 and report["seed"] == 0  # table1.py's protocol
