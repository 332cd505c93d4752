import math

import numpy as np
import pytest
import torch

from gankit.data import load_dataset
from gankit.data.toy import DISTRIBUTIONS, GaussianMixture, TwoMoons, distribution, grid, ring
from gankit.errors import ConfigError, DataError
from gankit.metrics.mode_coverage import mode_coverage


def _mass_2d(dist, n=400):
    lo, hi = dist.box()
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    xx, yy = np.meshgrid(xs, ys)
    dens = dist.density(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(n, n)
    return np.trapezoid(np.trapezoid(dens, xs, axis=1), ys)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_density_integrates_to_one(name):
    dist = distribution(name)
    if dist.dim == 1:
        lo, hi = dist.box()
        x = np.linspace(lo[0], hi[0], 20001)
        mass = np.trapezoid(dist.density(x[:, None]), x)
    else:
        mass = _mass_2d(dist, {"ring8": 600, "grid25": 600}.get(name, 300))
    assert mass == pytest.approx(1.0, abs=2e-3)


def test_gaussian_density_matches_the_formula():
    dist = GaussianMixture(np.array([[2.0]]), 0.5)
    x = np.array([[2.0], [2.5], [0.0]])
    expected = np.exp(-0.5 * ((x[:, 0] - 2) / 0.5) ** 2) / (0.5 * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(dist.density(x), expected, rtol=1e-12)


@pytest.mark.parametrize("dist", [ring(), grid(), TwoMoons(), distribution("mixture-1d")])
def test_samples_follow_the_density(dist):
    """Mean log density of fresh samples = -entropy, estimated two ways must agree: the sample
    mean of log p over samples vs the density-weighted integral on a grid (box ~ 1/100)."""
    x = dist.sample(20000, np.random.default_rng(0))
    assert x.shape == (20000, dist.dim)
    # Share of samples in the box [lo, mid] x ... against the density's mass there.
    lo, hi = dist.box()
    mid = (lo + hi) / 2
    inside = np.all(x <= mid, axis=1).mean()
    if dist.dim == 1:
        g = np.linspace(lo[0], mid[0], 20001)
        mass = np.trapezoid(dist.density(g[:, None]), g)
    else:
        xs = np.linspace(lo[0], mid[0], 300)
        ys = np.linspace(lo[1], mid[1], 300)
        xx, yy = np.meshgrid(xs, ys)
        d = dist.density(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(300, 300)
        mass = np.trapezoid(np.trapezoid(d, xs, axis=1), ys)
    assert inside == pytest.approx(mass, abs=0.015)


def test_toy_datasets_load_as_points():
    data = load_dataset("ring8", "train")
    assert data.images.shape == (20000, 2) and data.images.dtype == torch.float32
    assert data.shape == (2,) and data.distribution.modes.shape == (8, 2)
    again = load_dataset("ring8", "train")
    assert torch.equal(data.images, again.images)  # fixed per split
    assert not torch.equal(data.images[:100], load_dataset("ring8", "valid").images[:100])
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_dataset("ring9")
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("grid25", "extra")


def test_mode_coverage_hand_counts():
    modes = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    # 6 samples on mode 0, 2 on mode 1, 1 on mode 2 but 4 stds away (not high quality), 1 far.
    x = np.array([[0, 0]] * 6 + [[10, 0.1]] * 2 + [[0, 10.4]] + [[5, 5]], float)
    cov = mode_coverage(x, modes, std=0.1, min_share=0.15)
    assert cov.modes_covered == 2 and cov.modes_total == 4
    assert cov.high_quality == pytest.approx(0.8)
    p = np.array([6, 2]) / 8
    assert cov.kl_to_uniform == pytest.approx(float((p * np.log(p * 4)).sum()))
    # Default threshold: a quarter of the uniform share, 1/16 of 10 samples: 2 samples count.
    assert mode_coverage(x, modes, std=0.1).modes_covered == 2
    collapsed = mode_coverage(np.zeros((50, 2)), modes, std=0.1)
    assert collapsed.modes_covered == 1 and collapsed.kl_to_uniform == pytest.approx(math.log(4))


def test_mode_coverage_of_true_samples_is_full():
    for dist in (ring(), grid()):
        x = torch.from_numpy(dist.sample(5000, np.random.default_rng(1)))
        cov = mode_coverage(x, dist.modes, dist.std)
        assert cov.modes_covered == len(dist.modes)
        assert cov.high_quality > 0.98  # 3 stds in 2-D hold 98.9% of a Gaussian's mass
        assert cov.kl_to_uniform < 0.01
