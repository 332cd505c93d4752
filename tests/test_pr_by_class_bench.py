"""benchmarks/pr_by_class.py: precision and recall broken down by digit, checked by hand on
points on a line, against the product's metric on a real MNIST run, and its refusals."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from helpers import TINY, load_benchmark

import gankit
from gankit.errors import ConfigError, run_script
from gankit.metrics.evaluate import Evaluator
from gankit.metrics.prc import knn_radii, precision_recall
from gankit.nets.mlp import MLPGenerator
from gankit.nets.noise import sample_noise
from gankit.sampling import sample


@pytest.fixture
def bench():
    return load_benchmark("pr_by_class")


def logits_of(classes: list[int], confidence: float = 10.0) -> torch.Tensor:
    out = torch.zeros(len(classes), 10, dtype=torch.float64)
    out[torch.arange(len(classes)), torch.tensor(classes)] = confidence
    return out


def test_breakdown_by_hand(bench):
    # Real points 0, 1, 3, 7 (k = 1: squared radii 1, 1, 4, 16), of classes 0, 0, 1, 1.
    real = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    # Fakes 0.5 (inside) and 12 (outside) read as 0; 5 (inside) and -1.5 (outside) as 1.
    fake = torch.tensor([[0.5], [12.0], [5.0], [-1.5]], dtype=torch.float64)
    ambiguous = logits_of([0, 0, 1, 1])
    ambiguous[3, 1] = 0.5  # read as 1 with e^0.5 / (e^0.5 + 9) = 0.15 confidence
    out = bench.breakdown(real, knn_radii(real, k=1), torch.tensor([0, 0, 1, 1]), fake,
                          ambiguous, k=1)
    assert out["precision"] == 0.5
    assert out["precision_by_class"][:2] == [0.5, 0.5]
    assert all(math.isnan(p) for p in out["precision_by_class"][2:])
    # Fake squared radii (k = 1): 0.5 -> 4 (to -1.5), 12 -> 49, 5 -> 20.25, -1.5 -> 4; reals
    # 0 and 1 lie inside 0.5's ball, 3 (6.25 from 0.5) and 7 inside 5's (4 <= 20.25).
    assert out["recall_by_class"][:2] == [1.0, 1.0] and out["recall"] == 1.0
    assert out["share"][:2] == [0.5, 0.5] and out["ambiguous"] == 0.25
    assert out["precision_confident"] == pytest.approx(2 / 3)  # -1.5, outside, is left out


def test_overall_figures_are_the_products_and_the_classes_add_up(bench, mnist_root, tmp_path,
                                                                 monkeypatch, one_torch_thread):
    monkeypatch.setenv("GANKIT_DATA_DIR", str(mnist_root))
    monkeypatch.setattr(bench, "PAPER_SAMPLES", 400)
    run = tmp_path / "run"
    gankit.train("paper-mnist", out=run, progress=False,
                 sets=[*TINY, "train.max_steps=30", "train.epochs=0", "train.ema=0.9"])
    evaluator = Evaluator("mnist", metrics=["pr"], n_reference=400, progress=False)
    result = bench.measure(str(run), evaluator, bench.reference(evaluator), raw=False, seed=5)
    g = result["generator"]
    feats = evaluator.feature_network.extract(sample(run, 400, seed=5))[0]
    assert (g["precision"], g["recall"]) == precision_recall(evaluator.reference_features(),
                                                             feats)
    # Precision is the share-weighted mean of the per-class precisions.
    weighted = sum(s * p for s, p in zip(g["share"], g["precision_by_class"], strict=True)
                   if s > 0)
    assert weighted == pytest.approx(g["precision"], abs=1e-12)
    # The test digits against training digits: a G that drew the data scores high.
    t = result["test digits"]
    assert t["precision"] > 0.7 and t["recall"] > 0.7 and t["ambiguous"] < 0.1


def test_noise_scale_feeds_g_the_same_draws_scaled(bench):
    torch.manual_seed(0)
    g = MLPGenerator(8, [16], (1, 4, 4))
    z = sample_noise(50, 8, g.prior, "cpu", torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = g(0.5 * z)
    assert torch.equal(sample(bench.NoiseScaled(g, 0.5), 50, seed=3), expected)
    assert not torch.equal(sample(g, 50, seed=3), expected)


def test_refuses_a_run_of_other_data(bench, tmp_path, monkeypatch, capsys):
    run = tmp_path / "digits"
    gankit.train("paper-digits", out=run, progress=False, sets=[*TINY, "train.max_steps=2",
                                                                "train.epochs=0"])
    with pytest.raises(ConfigError, match="trained on digits, not MNIST"):
        bench.measure(str(run), Evaluator("mnist", metrics=["pr"], progress=False), None,
                      raw=False)
    monkeypatch.setattr(sys, "argv", ["pr_by_class.py", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit) as exit_info:
        run_script(bench.main)
    assert exit_info.value.code != 0
    assert "neither a run directory" in capsys.readouterr().err
