"""The shipped MNIST classifier and the feature metrics it defines, on real MNIST."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.metrics.classifier import accuracy, file_digest, load_classifier, shipped_weights_path
from gankit.metrics.evaluate import Evaluator
from gankit.metrics.features import load_feature_network


@pytest.fixture(scope="module")
def mnist_test(mnist_root):
    from gankit.data import load_dataset

    return load_dataset("mnist", "test", mnist_root)


def test_shipped_weights_reach_the_test_accuracy_their_card_records(mnist_test):
    card = json.loads(shipped_weights_path().with_suffix(".json").read_text())
    acc = accuracy(load_classifier(), mnist_test.images, mnist_test.labels)
    assert acc == pytest.approx(card["test_accuracy"], abs=2e-4) and acc >= 0.99


def test_weights_card_names_the_file_and_the_command():
    path = shipped_weights_path()
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sha256"] == file_digest(path)
    assert "gankit train-classifier" in card["command"] and card["seed"] == 0
    assert path.stat().st_size < 3_000_000


def test_damaged_weights_are_refused(tmp_path):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged"):
        load_classifier(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_classifier(tmp_path / "missing.safetensors")


def test_features_and_logits_agree_with_the_classifier(mnist_test):
    fn = load_feature_network("mnist-classifier")
    feats, logits = fn.extract(mnist_test.images[:300])
    assert feats.shape == (300, 128) and feats.dtype == torch.float64
    with torch.no_grad():
        direct = load_classifier()(mnist_test.images[:300])
    assert torch.allclose(logits, direct.double(), atol=1e-4)


def test_real_images_score_near_the_best_and_noise_near_the_worst(mnist_test, mnist_root):
    ev = Evaluator("mnist", str(mnist_root), ["fid", "kid", "pr", "score", "modes"],
                   n_reference=2000, kid_subsets=10, kid_subset_size=500, progress=False)
    real = {r["metric"]: r["value"] for r in ev.run(mnist_test.images[:2000])}
    noise = {r["metric"]: r["value"]
             for r in ev.run(torch.rand(2000, 1, 28, 28, generator=torch.Generator()
                                        .manual_seed(0)))}
    assert real["fid"] < 0.1 * noise["fid"] and real["kid"] < 0.1 * noise["kid"]
    assert real["precision"] > 0.6 and real["recall"] > 0.6
    assert noise["precision"] < 0.1
    assert real["score"] > 9 and real["modes_kl"] < 0.01
    assert noise["modes_kl"] > 0.5
