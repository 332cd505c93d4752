"""The stable presets (ring8-stable, grid25-stable, stacked-mnist-stable, mnist-stable) load,
validate and train a few steps through the ordinary API; benchmarks/stable.py scores a run (of
a preset, or of an MNIST candidate given by --set) and its ablation variants each change the
preset. Their measured results live in docs/stabilisers.md, not here: nothing below is timed."""

from __future__ import annotations

import math

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
def stable_bench():
    return load_benchmark("stable")


def test_benchmark_scores_a_run_and_reads_it_back(tmp_path, stable_bench, monkeypatch):
    row = stable_bench.run_seed("ring8-stable", 3, FEW, tmp_path / "run")
    assert row["seed"] == 3 and row["steps"] == 3 and row["modes_total"] == 8
    assert 0 <= row["high_quality"] <= 1 and row["cpu_seconds"] >= 0
    monkeypatch.setitem(stable_bench.ABLATIONS, "preset", ("the preset, briefly", FEW))
    first = stable_bench.measure("ring8-stable", "preset", [0], tmp_path, [])
    assert (tmp_path / "ring8-stable.json").exists() and len(first["runs"]) == 1
    monkeypatch.setattr(stable_bench, "run_seed", lambda *a: pytest.fail("trained again"))
    assert stable_bench.measure("ring8-stable", "preset", [0], tmp_path, []) == first


@pytest.mark.parametrize("name", STABLE)
def test_every_ablation_variant_changes_the_preset(stable_bench, name):
    """All but dcgan-betas, which the 2-D presets already hold (--ablation skips it there)."""
    for variant in list(stable_bench.ABLATIONS)[1:]:
        sets = stable_bench.variant_sets(name, variant, [])
        changes = stable_bench.changes_preset(name, sets, [])
        assert changes == (variant != "dcgan-betas"), variant
        check_config(build_config(name, sets=sets))


def test_a_variant_the_candidate_already_holds_is_skipped(stable_bench):
    """--set train.ema=0 on the preset: the no-ema variant then changes nothing and is skipped,
    and the half-steps variant halves the candidate's budget, not the preset's."""
    extra = ["train.ema=0.0", "train.max_steps=1000"]
    no_ema = stable_bench.variant_sets("grid25-stable", "no-ema", extra)
    assert not stable_bench.changes_preset("grid25-stable", no_ema, extra)
    assert stable_bench.changes_preset("grid25-stable", no_ema, [])
    half = stable_bench.variant_sets("grid25-stable", "half-steps", extra)
    assert build_config("grid25-stable", sets=half).train.max_steps == 500


def test_stacked_preset_is_listed_valid_and_sets_its_own_budget(stable_bench):
    assert "stacked-mnist-stable" in preset_names() and preset_summary("stacked-mnist-stable")
    cfg = build_config("stacked-mnist-stable")
    check_config(cfg)
    assert cfg.data.name == "stacked_mnist" and cfg.model.arch == "dcgan"
    assert cfg.train.max_steps > 0 and cfg.train.epochs == 0
    assert cfg.game.loss == "rpgan" and cfg.reg.r1 > 0 and cfg.reg.r2 > 0 and cfg.train.ema > 0
    assert (cfg.optim.beta1, cfg.optim.beta2) == (0.0, 0.99)  # R3GAN's, not DCGAN's
    assert cfg.optim.lr == 3e-4  # measured on held-out seeds against 2e-4 (docs/stabilisers.md)
    dcgan_betas = stable_bench.variant_sets("stacked-mnist-stable", "dcgan-betas", [])
    assert stable_bench.changes_preset("stacked-mnist-stable", dcgan_betas, [])
    assert build_config("dcgan-stacked-mnist").game.loss == "gan"  # DCGAN's own, kept


def test_mnist_preset_is_the_papers_d_and_a_wider_g_with_the_stable_recipe():
    """The paper's maxout D kept, less its dropout and with a minibatch-std feature, and its G
    a third wider; the game, optimiser and budget changed. Each version's held-out runs trained
    as the version before plus overrides (docs/stabilisers.md), so the preset must build exactly
    what its own runs trained, and the documented commands of the versions before must build
    theirs."""
    assert "mnist-stable" in preset_names() and preset_summary("mnist-stable")
    cfg, paper = build_config("mnist-stable"), build_config("paper-mnist")
    check_config(cfg)
    assert cfg.data == paper.data
    changed = {"g_hidden": [1600, 1600], "d_input_keep": 1.0, "d_hidden_keep": 1.0,
               "d_minibatch_std": 4}
    assert cfg.to_dict()["model"] == {**paper.to_dict()["model"], **changed}
    assert cfg.game.loss == "rpgan" and (cfg.reg.r1, cfg.reg.r2) == (0.05, 0.05)
    assert cfg.optim.name == "adam" and (cfg.optim.beta1, cfg.optim.beta2) == (0.0, 0.99)
    assert cfg.train.ema == 0.9999 and cfg.train.epochs == 0
    assert cfg.reg.every == 16 and cfg.train.max_steps == 44000  # lazy penalties buy the steps
    first = ["optim.name='adam'", "optim.lr=0.0005", "optim.lr_decay=1.0", "optim.beta1=0.0",
             "optim.beta2=0.99", "game.loss='rpgan'", "reg.r1=0.1", "reg.r2=0.1",
             "train.ema=0.9999", "train.max_steps=36000"]  # trained as paper-mnist + these
    lazy = [*first, "reg.every=16", "train.max_steps=56000"]
    no_dropout = [*lazy, "model.d_input_keep=1.0", "model.d_hidden_keep=1.0"]
    # the versions before, as docs/stabilisers.md's commands write them: overrides on the preset
    narrow = ["model.g_hidden=[1200,1200]", "train.max_steps=62000"]
    before = [*narrow, "reg.r1=0.1", "reg.r2=0.1", "model.d_minibatch_std=0",
              "train.max_steps=56000"]
    assert build_config("paper-mnist", sets=no_dropout).to_dict() \
        == build_config("mnist-stable", sets=before).to_dict()
    # the narrow version's held-out runs trained as the one before plus these
    mbstd = ["reg.r1=0.05", "reg.r2=0.05", "model.d_minibatch_std=4", "train.max_steps=62000"]
    assert build_config("mnist-stable", sets=[*before, *mbstd]).to_dict() \
        == build_config("mnist-stable", sets=narrow).to_dict()
    narrow_version = [*no_dropout, *mbstd]  # the version before, from paper-mnist
    assert build_config("paper-mnist", sets=narrow_version).to_dict() \
        == build_config("mnist-stable", sets=narrow).to_dict()
    measured_as = [*narrow_version, "model.g_hidden=[1600,1600]", "train.max_steps=44000"]
    assert build_config("paper-mnist", sets=measured_as).to_dict() == cfg.to_dict()
    with_dropout = [*before, "model.d_input_keep=0.8", "model.d_hidden_keep=0.5"]
    assert build_config("mnist-stable", sets=with_dropout).to_dict() \
        == build_config("paper-mnist", sets=lazy).to_dict()
    assert build_config("mnist-stable", sets=[*with_dropout, "reg.every=1",
                                              "train.max_steps=36000"]).to_dict() \
        == build_config("paper-mnist", sets=first).to_dict()


def test_benchmark_scores_a_stacked_mnist_run_from_its_ema(tmp_path, stable_bench, monkeypatch,
                                                          mnist_root, capsys):
    """Two steps of a narrow stacked-mnist-stable, scored as the table scores it (300 samples
    here, 26,000 in the benchmark): modes of 1,000, KL, the largest mode, for the EMA G and the
    raw one; printed per seed."""
    monkeypatch.setattr(stable_bench, "STACKED_SAMPLES", 300)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(mnist_root))
    sets = ["train.max_steps=2", "train.batch_size=16", "model.g_width=4", "model.d_width=4",
            "report.html=false", "monitor.collapse_every=0"]
    row = stable_bench.run_seed("stacked-mnist-stable", 5, sets, tmp_path / "run")
    assert row["steps"] == 2
    for scores in (row, row["raw"]):
        assert scores["modes_total"] == 1000 and scores["n_samples"] == 300
        assert 1 <= scores["modes_covered"] <= 300 and 1 <= scores["largest_mode"] <= 300
        assert 0 <= scores["kl_to_uniform"] <= math.log(1000) + 1e-9
    evals = sorted(p.name for p in (tmp_path / "run" / "eval").iterdir())
    assert len(evals) == 2 and evals[0] == evals[1].replace(".json", "-raw.json")  # two Gs
    result = stable_bench.summary("stacked-mnist-stable", "preset", [], [row])
    assert result["raw"]["kl_to_uniform"] == row["raw"]["kl_to_uniform"]
    stable_bench.print_seeds(result)
    table = capsys.readouterr().out
    assert "largest mode" in table and f"| 5 | {row['modes_covered']} |" in table
    assert f"| 5, raw G | {row['raw']['modes_covered']} |" in table
    assert "| mean +- std, raw G |" in table


def test_benchmark_scores_an_mnist_run_from_its_ema_and_its_raw_g(tmp_path, stable_bench,
                                                                 monkeypatch, mnist_root, capsys):
    """Two steps of a narrow paper-mnist with an EMA G (through --set, as a candidate recipe is
    measured), scored as the table scores it (500 samples here, 10,000 in the benchmark):
    Parzen, FID, precision, recall, for the EMA G and the raw one."""
    monkeypatch.setattr(stable_bench, "MNIST_SAMPLES", 500)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(mnist_root))
    sets = ["train.max_steps=2", "train.batch_size=16", "model.g_hidden=[8, 8]",
            "model.d_units=[4, 4]", "report.html=false", "monitor.collapse_every=0"]
    sets = stable_bench.variant_sets("paper-mnist", "preset", ["train.ema=0.9999"]) + sets
    assert sets[0] == "train.ema=0.9999"
    row = stable_bench.run_seed("paper-mnist", 6, sets, tmp_path / "run")
    assert row["n_samples"] == 500 and row["steps"] == 2
    for scores in (row, row["raw"]):
        assert math.isfinite(scores["parzen"]) and scores["parzen_error"] > 0
        assert scores["fid"] > 0 and 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    assert row["parzen"] != row["raw"]["parzen"]  # two generators, not one scored twice
    stable_bench.print_seeds(stable_bench.summary("paper-mnist", "preset", [], [row]))
    table = capsys.readouterr().out
    assert f"| 6 | {row['parzen']:.1f} +- " in table and "| 6, raw G |" in table
    assert "| mean +- std, raw G |" in table
