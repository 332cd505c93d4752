"""Evaluation of checkpoints (JSON, CLI) and periodic evaluation during training."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import tiny_config

import gankit
from gankit.cli import main
from gankit.errors import ConfigError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics
from gankit.metrics.evaluate import Evaluator, evaluate_checkpoint, parse_metrics
from gankit.metrics.parzen import parzen_protocol

EVAL = ["eval.every=1", "eval.metrics='parzen'", "eval.samples=300", "eval.best_by='parzen'"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    gankit.train(config=tiny_config("train.epochs=2", *EVAL), out=out, progress=False)
    return out


def test_parse_metrics():
    assert parse_metrics("fid, parzen,fid") == ["fid", "parzen"]
    with pytest.raises(ConfigError, match="unknown metric"):
        parse_metrics("fid,inception")


def test_periodic_evaluation_logs_and_keeps_the_best_checkpoint(digits_run):
    lines = [r for r in read_metrics(digits_run) if "eval_parzen" in r]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert all(r["eval_samples"] == 300 and r["eval_parzen_se"] > 0 for r in lines)
    best = json.loads((digits_run / "best.json").read_text())
    top = max(lines, key=lambda r: r["eval_parzen"])
    assert best["value"] == top["eval_parzen"] and best["epoch"] == top["epoch"]
    assert [r["eval_best"] for r in lines][0] is True
    # The copy is an intact checkpoint of that epoch, and its score reproduces.
    path, _ = ckpt.resolve(digits_run / "best")
    _, state = ckpt.read_checkpoint(path)
    assert state["epoch"] == best["epoch"]
    g = gankit.load_generator(path)
    from gankit.data import load_dataset
    from gankit.nets.noise import sample_noise

    z = sample_noise(300, g.noise_dim, g.prior, "cpu", torch.Generator().manual_seed(0))
    with torch.no_grad():
        again = parzen_protocol(g(z), load_dataset("digits", "valid").images,
                                load_dataset("digits", "test").images)
    assert again.mean == pytest.approx(best["value"], abs=1e-9)


def test_periodic_evaluation_does_not_change_the_weights(digits_run, tmp_path):
    plain = tmp_path / "plain"
    gankit.train(config=tiny_config("train.epochs=2"), out=plain, progress=False)
    a, _ = ckpt.read_checkpoint(ckpt.resolve(plain)[0])
    b, _ = ckpt.read_checkpoint(ckpt.resolve(digits_run)[0])
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("G/", "D/")))


def test_best_by_must_be_computed():
    with pytest.raises(ConfigError, match="best_by"):
        gankit.train(config=tiny_config("eval.every=1", "eval.metrics='parzen'",
                                        "eval.best_by='fid'"), out=None, progress=False)


def test_feature_metrics_on_another_dataset_are_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match="need the MNIST feature network"):
        gankit.train(config=tiny_config("eval.every=1", "eval.metrics='fid'"),
                     out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_evaluate_checkpoint_writes_json_beside_the_run(digits_run):
    report, path = evaluate_checkpoint(digits_run, "parzen", n_samples=200, progress=False)
    assert path.parent == digits_run / "eval" and path.exists()
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["format"] == "gankit-eval/1" and saved["dataset"] == "digits"
    (row,) = saved["results"]
    assert row["metric"] == "parzen" and row["params"]["n_samples"] == 200
    assert row["params"]["n_valid"] == 200 and row["params"]["n_test"] == 200
    assert "feature_network" not in saved


def test_feature_metrics_refuse_images_of_another_shape():
    ev = Evaluator("digits", metrics=["fid"], progress=False)
    with pytest.raises(GankitError, match=r"takes images of shape \(1, 28, 28\)"):
        ev.run(torch.rand(10, 1, 8, 8))


def test_cli_evaluate_prints_a_table(digits_run, tmp_path):
    out = tmp_path / "e.json"
    r = subprocess.run([sys.executable, "-m", "gankit", "evaluate", str(digits_run), "--metrics",
                        "parzen", "--samples", "100", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "parzen" in r.stdout and out.exists()


def test_cli_evaluate_refuses_bad_metrics_in_one_line(digits_run, capsys):
    assert main(["evaluate", str(digits_run), "--metrics", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: unknown metric(s) bogus") and err.count("\n") == 1


def test_cli_figures_writes_the_three_pngs(digits_run, tmp_path, capsys):
    assert main(["figures", str(digits_run), "--out", str(tmp_path), "--n-memo", "100",
                 "--quiet"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"figure2.png", "figure3.png",
                                                    "memorisation.png"}
    assert "median squared distance" in capsys.readouterr().out
