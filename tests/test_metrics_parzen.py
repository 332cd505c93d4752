"""Parzen estimate: float32 fast path against a float64 reference, and the protocol's choices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from gankit.errors import GankitError
from gankit.metrics.parzen import PAPER_SIGMAS, parzen_log_density, parzen_protocol


def reference_log_density(x: np.ndarray, s: np.ndarray, sigma: float) -> np.ndarray:
    """Direct float64 evaluation: explicit differences (scipy), max-shifted log-mean-exp."""
    x, s = x.reshape(len(x), -1).astype(np.float64), s.reshape(len(s), -1).astype(np.float64)
    d2 = cdist(x, s, "sqeuclidean")
    a = -d2 / (2 * sigma**2)
    m = a.max(1, keepdims=True)
    lme = m[:, 0] + np.log(np.exp(a - m).mean(1))
    return lme - x.shape[1] * np.log(sigma * np.sqrt(2 * np.pi))


def test_paper_sigma_grid():
    assert len(PAPER_SIGMAS) == 10
    assert PAPER_SIGMAS[0] == pytest.approx(0.1) and PAPER_SIGMAS[-1] == pytest.approx(1.0)
    assert PAPER_SIGMAS[2] == pytest.approx(0.1668, abs=1e-4)


def test_single_gaussian_matches_closed_form():
    # One sample at the origin: log p(x) is the Gaussian log density itself.
    x = np.array([[0.3, -0.4]])
    got = parzen_log_density(x, np.zeros((1, 2)), (0.5,))[0, 0]
    want = -0.25 / (2 * 0.25) - 2 * math.log(0.5 * math.sqrt(2 * math.pi))
    assert float(got) == pytest.approx(want, abs=1e-6)


def test_float32_matches_float64_on_random_data():
    rng = np.random.default_rng(0)
    s = rng.random((400, 784), dtype=np.float32) * 0.5
    x = rng.random((80, 784), dtype=np.float32) * 0.5
    got = parzen_log_density(x, s, PAPER_SIGMAS, block_size=64)
    for i, sigma in enumerate(PAPER_SIGMAS):
        ref = reference_log_density(x, s, sigma)
        assert np.abs(got[i].numpy() - ref).max() < 0.01, sigma
        assert abs(float(got[i].mean()) - ref.mean()) < 0.01


def test_float32_matches_float64_on_mnist(mnist_root):
    from gankit.data import load_dataset

    train = load_dataset("mnist", "train", mnist_root).images[:1000].numpy()
    test = load_dataset("mnist", "test", mnist_root).images[:100].numpy()
    got = parzen_log_density(test, train, PAPER_SIGMAS, block_size=50)
    for i, sigma in enumerate(PAPER_SIGMAS[:5]):  # the small sigmas are the sensitive ones
        ref = reference_log_density(test, train, sigma)
        assert np.abs(got[i].numpy() - ref).max() < 0.01, sigma


def test_block_size_does_not_change_result():
    g = torch.Generator().manual_seed(1)
    s, x = torch.rand(300, 20, generator=g), torch.rand(77, 20, generator=g)
    a = parzen_log_density(x, s, PAPER_SIGMAS, block_size=1000)
    b = parzen_log_density(x, s, PAPER_SIGMAS, block_size=10)
    assert torch.allclose(a, b, atol=1e-5)


def test_protocol_picks_sigma_on_validation_and_reports_se():
    rng = np.random.default_rng(3)
    samples = rng.normal(0, 0.3, (400, 5))
    valid = rng.normal(0, 0.3, (1200, 5))
    test = rng.normal(0, 0.3, (250, 5))
    r = parzen_protocol(samples, valid, test, n_valid=1000)
    assert r.n_valid == 1000 and r.n_test == 250 and r.n_samples == 400
    vals = [reference_log_density(valid[:1000], samples, s).mean() for s in PAPER_SIGMAS]
    assert r.sigma == pytest.approx(PAPER_SIGMAS[int(np.argmax(vals))])
    ref = reference_log_density(test, samples, r.sigma)
    assert r.mean == pytest.approx(ref.mean(), abs=1e-3)
    assert r.se == pytest.approx(ref.std(ddof=0) / math.sqrt(len(ref)), rel=1e-3)


def test_mismatched_dimensions_are_refused():
    with pytest.raises(GankitError, match="dimensions"):
        parzen_log_density(np.zeros((3, 4)), np.zeros((5, 6)))
