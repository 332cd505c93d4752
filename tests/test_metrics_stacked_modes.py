"""Stacked MNIST mode count: hand-built samples of chosen digit triples, KL by hand, bad input,
and the `gankit evaluate --metrics stacked-modes` path on a Stacked MNIST run."""

from __future__ import annotations

import json
import math

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.config import build_config
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics import evaluate as evaluate_mod
from gankit.metrics.evaluate import Evaluator
from gankit.metrics.features import load_feature_network
from gankit.metrics.stacked_modes import count_modes, digit_triples, stacked_modes


@pytest.fixture(scope="module")
def classifier():
    return load_feature_network("mnist-classifier")


@pytest.fixture(scope="module")
def digits(mnist_root, classifier):
    """Per digit 0..9, test images the classifier reads as that digit and that are labelled so."""
    test = load_dataset("mnist", "test", mnist_root)
    x, y = test.images[:1000], test.labels[:1000]
    pred = classifier.extract(x)[1].argmax(1)
    ok = pred == y
    return {d: x[ok & (y == d)][:5] for d in range(10)}


def _stack(digits, triples: list[int], copy: int = 0) -> torch.Tensor:
    """One sample (3, 28, 28) per triple: the digits a, b, c of 100 a + 10 b + c as R, G, B."""
    rows = []
    for t in triples:
        a, b, c = t // 100, t // 10 % 10, t % 10
        rows.append(torch.cat([digits[a][copy], digits[b][(copy + 1) % 5],
                               digits[c][(copy + 2) % 5]], 0))
    return torch.stack(rows)


def test_samples_of_chosen_triples_cover_exactly_those_modes(digits, classifier):
    # Order matters: 123 and 321 are different modes (R is the hundreds).
    triples = [123, 321, 123, 7, 999, 450, 450, 450]
    samples = _stack(digits, triples, copy=1)
    assert digit_triples(samples, classifier).tolist() == triples
    m = stacked_modes(samples, classifier)
    assert (m.modes_covered, m.modes_total, m.n_samples, m.largest_mode) == (5, 1000, 8, 3)
    # KL(p || uniform) = sum p log(1000 p) over p = 2/8, 1/8, 1/8, 1/8, 3/8.
    want = 2 / 8 * math.log(1000 * 2 / 8) + 3 * (1 / 8 * math.log(1000 / 8)) \
        + 3 / 8 * math.log(1000 * 3 / 8)
    assert m.kl_to_uniform == pytest.approx(want, rel=1e-12)
    # R reads 1, 3, 1, 0, 9, 4, 4, 4, G 2, 2, 2, 0, 9, 5, 5, 5 and B 3, 1, 3, 7, 9, 0, 0, 0
    r_kl = 2 / 8 * math.log(10 * 2 / 8) + 3 * (1 / 8 * math.log(10 / 8)) \
        + 3 / 8 * math.log(10 * 3 / 8)
    g_kl = 2 * (3 / 8 * math.log(10 * 3 / 8)) + 2 * (1 / 8 * math.log(10 / 8))
    assert m.channel_kl == pytest.approx((r_kl, g_kl, r_kl), rel=1e-12)


def test_uniform_and_collapsed_histograms():
    every = count_modes(torch.arange(1000).repeat(3))
    assert (every.modes_covered, every.largest_mode) == (1000, 3)
    assert every.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    one = count_modes(torch.full((26,), 417))
    assert one.modes_covered == 1
    assert one.kl_to_uniform == pytest.approx(math.log(1000), rel=1e-12)


def test_tanh_range_and_grey_samples_are_refused(digits, classifier):
    samples = _stack(digits, [1, 2])
    with pytest.raises(GankitError, match=r"in \[0, 1\].*\(x \+ 1\) / 2"):
        stacked_modes(samples * 2 - 1, classifier)
    with pytest.raises(GankitError, match=r"\(N, 3, 28, 28\)"):
        stacked_modes(samples[:, :1], classifier)


def test_evaluator_rows(digits):
    ev = Evaluator("stacked_mnist", metrics=["stacked-modes"], progress=False)
    rows = ev.run(_stack(digits, [5, 50, 500, 5], copy=2))
    assert [r["metric"] for r in rows] == ["stacked_modes", "stacked_kl"]
    assert rows[0]["value"] == 3 and rows[0]["params"]["n_samples"] == 4
    want = 2 / 4 * math.log(1000 * 2 / 4) + 2 * (1 / 4 * math.log(1000 / 4))
    assert rows[1]["value"] == pytest.approx(want, rel=1e-12)
    assert len(rows[0]["params"]["classifier_sha256"]) == 64


@pytest.fixture(scope="module")
def stacked_run(mnist_root, tmp_path_factory):
    """A narrow DCGAN on Stacked MNIST, trained for two steps (the wiring, not the quality)."""
    cfg = build_config("dcgan-stacked-mnist", sets=[
        f"data.data_dir={str(mnist_root)!r}", "model.g_width=4", "model.d_width=4",
        "train.batch_size=16", "train.max_steps=2", "train.sample_every=0"])
    out = tmp_path_factory.mktemp("stacked") / "run"
    before = torch.get_num_threads()  # module scope: conftest's one-thread fixture is not on yet
    torch.set_num_threads(1)
    try:
        gankit.train(config=cfg, out=out, progress=False)
    finally:
        torch.set_num_threads(before)
    return out


def test_cli_evaluate_stacked_modes_writes_json(stacked_run, tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["evaluate", str(stacked_run), "--metrics", "stacked-modes", "--samples", "300",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "stacked_modes" in printed and "KL of the R, G, B digit frequencies" in printed
    report = json.loads(out.read_text())
    assert report["dataset"] == "stacked_mnist" and report["notes"] == []
    modes, kl = report["results"]
    assert modes["metric"] == "stacked_modes" and modes["params"]["n_samples"] == 300
    assert 1 <= modes["value"] <= 300 and 0 <= kl["value"] <= math.log(1000) + 1e-9
    assert len(kl["params"]["channel_kl"]) == 3
    assert all(0 <= v <= math.log(10) + 1e-9 for v in kl["params"]["channel_kl"])


def test_stacked_modes_sample_count_defaults_to_the_literature(stacked_run, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(evaluate_mod, "STACKED_SAMPLES", 40)  # 26,000 in use; 40 keeps it fast
    report, _ = evaluate_mod.evaluate_checkpoint(stacked_run, "stacked-modes",
                                                 out=tmp_path / "e.json", progress=False)
    assert report["n_samples"] == 40
    assert report["results"][0]["params"]["n_samples"] == 40
