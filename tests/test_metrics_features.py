"""FID, KID, precision/recall and the classifier score against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from gankit.metrics.fid import fid, frechet_distance
from gankit.metrics.kid import kid, mmd2_unbiased, polynomial_kernel
from gankit.metrics.prc import coverage_fraction, inside_manifold, knn_radii, precision_recall
from gankit.metrics.score import class_histogram, classifier_score, kl_to_uniform


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_matches_scipy_sqrtm_in_float64():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    c1, c2 = _random_cov(rng, 6), _random_cov(rng, 6)
    want = ((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real)
    got = frechet_distance(*(torch.from_numpy(t) for t in (mu1, c1, mu2, c2)))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])
    got = frechet_distance(torch.zeros(3), torch.diag(a), torch.ones(3), torch.diag(b))
    # ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2 = 3 + (1 + 1 + 0)
    assert got == pytest.approx(5.0, abs=1e-10)


def test_fid_of_sampled_gaussians_approaches_closed_form():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    y = torch.randn(20000, 4, generator=g, dtype=torch.float64) * 2 + 1
    # mean shift 4 * 1 + per dimension (1 - 2)^2 = 4 + 4
    assert fid(x, y) == pytest.approx(8.0, abs=0.15)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_mmd2_unbiased_equals_the_u_statistic_by_hand():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g) + 0.5

    def k(a, b):
        return float(polynomial_kernel(a[None].double(), b[None].double()))

    xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
    yy = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / 12
    xy = sum(k(x[i], y[j]) for i in range(5) for j in range(4)) / 20
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_unbiased_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(2)
    same = [mmd2_unbiased(torch.randn(50, 8, generator=g), torch.randn(50, 8, generator=g))
            for _ in range(120)]
    mean, se = float(np.mean(same)), float(np.std(same) / math.sqrt(len(same)))
    assert abs(mean) < 3 * se  # unbiased: centred on the true value 0
    assert min(same) < 0 < max(same)
    x, y = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g) + 0.5
    value, err = kid(x, y, n_subsets=10, subset_size=300)
    assert value > 10 * err > 0


def test_precision_recall_direction_on_half_covering_samples():
    g = torch.Generator().manual_seed(3)
    real = torch.rand(1500, 2, generator=g)
    left = torch.rand(1500, 2, generator=g) * torch.tensor([0.5, 1.0])  # only the left half
    p, r = precision_recall(real, left)
    assert p > 0.95 and 0.4 < r < 0.65
    outside = torch.rand(1500, 2, generator=g) + torch.tensor([2.0, 0.0])  # nowhere near
    p2, r2 = precision_recall(real, outside)
    assert p2 == 0.0 and r2 == 0.0
    p3, r3 = precision_recall(real, torch.rand(1500, 2, generator=g))
    assert p3 > 0.9 and r3 > 0.9


def test_knn_radius_excludes_the_point_itself():
    pts = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(pts, k=1).tolist() == [1.0, 1.0, 4.0, 16.0]


def test_inside_manifold_by_hand():
    # squared radii (k = 1) 1, 1, 4, 16 around 0, 1, 3, 7: 0.5 and 5 (on 3's ball's edge) lie
    # inside, 12 (25 from 7) and -1.5 (2.25 from 0) outside, in blocks of any size.
    pts = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    queries = torch.tensor([[0.5], [5.0], [12.0], [-1.5]])
    for block in (1, 3, 2000):
        mask = inside_manifold(queries, pts, knn_radii(pts, k=1), block)
        assert mask.tolist() == [True, True, False, False]
    assert coverage_fraction(queries, pts, knn_radii(pts, k=1)) == 0.5


def test_classifier_score_extremes():
    confident = torch.full((1000, 10), -50.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 50.0
    assert classifier_score(confident)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = torch.zeros(1000, 10)
    one_class[:, 3] = 50.0
    assert classifier_score(one_class)[0] == pytest.approx(1.0, rel=1e-6)


def test_class_histogram_and_kl_to_uniform():
    logits = torch.eye(10)[[3, 3, 3, 1]]
    assert class_histogram(logits) == [0, 1, 0, 3, 0, 0, 0, 0, 0, 0]
    assert kl_to_uniform([5] * 10) == pytest.approx(0.0, abs=1e-12)
    assert kl_to_uniform([0] * 9 + [7]) == pytest.approx(math.log(10))
    want = 0.25 * math.log(2.5) + 0.75 * math.log(7.5)
    assert kl_to_uniform(class_histogram(logits)) == pytest.approx(want)
