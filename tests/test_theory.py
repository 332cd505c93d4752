import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from gankit.core.losses import value_function
from gankit.data.toy import GaussianMixture
from gankit.nets.toy import ToyGenerator
from gankit.paper import theory

GRID = np.linspace(-10, 10, 8001)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small nets: one thread is faster

P_DATA = GaussianMixture(np.array([[0.0]]), 1.0)


def _p(x=GRID):
    return P_DATA.density(x[:, None])


def test_jsd_matches_scipy_and_its_bounds():
    q = theory.AffineGenerator(0.5, 1.0).density(GRID)
    # scipy normalises the vectors and returns sqrt(JSD) (natural log): same on an even grid.
    assert theory.jsd(_p(), q, GRID) == pytest.approx(jensenshannon(_p(), q) ** 2, rel=1e-6)
    assert theory.jsd(_p(), _p(), GRID) == pytest.approx(0.0, abs=1e-12)
    far = theory.AffineGenerator(0.5, 7.5, "uniform").density(GRID)  # on [6.63, 8.37]
    disjoint = np.where(GRID < 6, _p(), 0.0)  # truncated data: no overlap with far
    disjoint /= np.trapezoid(disjoint, GRID)
    # Disjoint supports: JSD = log 2 times the (quadrature) masses' mean.
    mass = (np.trapezoid(disjoint, GRID) + np.trapezoid(far, GRID)) / 2
    assert theory.jsd(disjoint, far, GRID) == pytest.approx(math.log(2) * mass, rel=1e-12)
    assert mass == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("a, b, prior", [(0.5, 1.0, "gaussian"), (2.0, -1.0, "gaussian"),
                                         (1.0, 0.5, "uniform"), (-0.7, 0.0, "uniform")])
def test_theorem1_identity_c_equals_minus_log4_plus_2jsd(a, b, prior):
    """C(G) from D* directly vs -log 4 + 2 JSD, both by quadrature; and C(G) > -log 4.

    The identity uses that both densities integrate to 1; on a finite grid they integrate to
    masses m_p, m_q, and C - (-log 4 + 2 JSD) = log 2 (2 - m_p - m_q) exactly (a uniform's
    edges and far tails make that ~1e-4 here), so the check is to 1e-9 after that term.
    """
    q = theory.AffineGenerator(a, b, prior).density(GRID)
    c = theory.virtual_criterion(_p(), q, GRID)
    masses = np.trapezoid(_p(), GRID) + np.trapezoid(q, GRID)
    assert abs(2 - masses) < 2e-3
    assert c - theory.criterion_from_jsd(_p(), q, GRID) == pytest.approx(
        math.log(2) * (2 - masses), abs=1e-9)
    assert c > -theory.LOG4 + 1e-3


def test_minimum_minus_log4_at_pg_equal_pdata_where_d_star_is_half():
    g = theory.AffineGenerator(1.0, 0.0, "gaussian")  # N(0, 1) = p_data
    q = g.density(GRID)
    np.testing.assert_allclose(theory.optimal_discriminator(_p(), q), 0.5, atol=1e-12)
    assert theory.virtual_criterion(_p(), q, GRID) == pytest.approx(-math.log(4), abs=1e-9)
    # Over a family of affine G, C(G) is smallest at the match (a, b) = (1, 0).
    family = {(a, b): theory.virtual_criterion(
        _p(), theory.AffineGenerator(a, b).density(GRID), GRID)
        for a in (0.6, 0.8, 1.0, 1.25, 1.5) for b in (-0.5, 0.0, 0.5)}
    assert min(family, key=family.get) == (1.0, 0.0)


def test_affine_density_is_the_change_of_variables():
    g = theory.AffineGenerator(0.5, 1.0, "gaussian")
    np.testing.assert_allclose(g.density(GRID), norm.pdf(GRID, 1.0, 0.5), rtol=1e-10)
    u = theory.AffineGenerator(-2.0, 1.0, "uniform")
    assert u.density(np.array([1.0]))[0] == pytest.approx(1 / (4 * math.sqrt(3)))
    assert u.density(np.array([1.0 + 2 * math.sqrt(3) + 0.01]))[0] == 0.0


def test_pushforward_density_of_a_network_matches_the_exact_one():
    """A ReLU G set to x = |z| + 1 (not monotone): p_g = 2 * U density on [1, 1 + sqrt 3]."""
    g = ToyGenerator(1, [2], (1,))
    with torch.no_grad():
        g.net[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        g.net[0].bias.zero_()
        g.net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
        g.net[2].bias.fill_(1.0)
    grid = np.linspace(-1, 4, 501)
    p = theory.pushforward_density(g, grid)
    inside = (grid > 1.02) & (grid < 1 + math.sqrt(3) - 0.02)
    np.testing.assert_allclose(p[inside], 1 / math.sqrt(3), rtol=0.01)
    assert p[(grid < 0.98) | (grid > 2.76)].max() == 0.0
    assert np.trapezoid(p, grid) == pytest.approx(1.0, abs=0.01)


def test_value_function_monte_carlo_agrees_with_quadrature():
    """gankit.core.losses.value_function on samples, with D = D*, estimates C(G) by Monte Carlo."""
    g = theory.AffineGenerator(0.5, 1.0)
    rng = np.random.default_rng(0)
    real = P_DATA.sample(200_000, rng)[:, 0]
    fake = g(g.sample_noise(200_000, torch.Generator().manual_seed(0)))[:, 0].double().numpy()

    def logit_star(x):
        return P_DATA.log_density(x[:, None]) - np.log(g.density(x))

    v = value_function(torch.from_numpy(logit_star(real)), torch.from_numpy(logit_star(fake)))
    c = theory.virtual_criterion(_p(), g.density(GRID), GRID)
    assert float(v) == pytest.approx(c, abs=0.01)  # MC std ~ 0.003 here


def test_discriminator_trained_alone_approaches_d_star():
    """Proposition 1 by training: D alone against a fixed affine G of a Gaussian z.

    Measured (seed 0, 1500 Adam steps of 256 + 256 samples): max |D - D*| = 0.12 (at x = 2.75,
    the edge of the compared region, where samples are rare), mean 0.010, over the grid points
    where (p_data + p_g)/2 >= 1% of its peak; the tolerances leave room for that.
    """
    check = theory.optimal_d_experiment(0.5, 1.0, "gaussian", steps=1500, seed=0)
    assert check.mean_abs_error < 0.02
    assert check.max_abs_error < 0.2
    untrained = theory.optimal_d_experiment(0.5, 1.0, "gaussian", steps=1, seed=0)
    assert untrained.mean_abs_error > 0.1
    # V(D, G) of the trained D comes close to C(G) from below (no D beats D*).
    assert check.criterion == pytest.approx(check.criterion_jsd, abs=1e-5)
    assert check.criterion - 0.01 < check.value_trained <= check.criterion + 1e-6


def test_high_mass_region_is_the_central_interval_of_a_gaussian_and_a_uniform_support():
    step = GRID[1] - GRID[0]
    inside = GRID[theory.high_mass_region(_p(), GRID, 0.95)]
    assert inside.min() == pytest.approx(-norm.ppf(0.975), abs=2 * step)  # -1.96
    assert inside.max() == pytest.approx(norm.ppf(0.975), abs=2 * step)
    flat = theory.AffineGenerator(1.0, 3.0, "uniform").density(GRID)  # on [3 - 1.73, 3 + 1.73]
    assert np.array_equal(theory.high_mass_region(flat, GRID, 1.0), flat > 0)
    with pytest.raises(ValueError, match="mass must be in"):
        theory.high_mass_region(flat, GRID, 0.0)


def test_distance_from_half_judges_d_where_the_mass_is():
    p = _p()
    # p_g = p_data: D* = 1/2. A D off by 0.1 everywhere, and wildly off (D = 1) where
    # |x| > 4 (mass 6e-5): the max over the 99% region ignores the tails, the mean barely sees it.
    d = np.where(np.abs(GRID) > 4, 1.0, 0.6)
    h = theory.distance_from_half(d, p, p, GRID)
    assert h.max_abs_d_minus_half == pytest.approx(0.1)
    assert h.mean_abs_d_minus_half == pytest.approx(0.1 + 0.4 * 2 * norm.sf(4), abs=1e-6)
    assert h.max_abs_dstar_minus_half == 0.0
    assert h.mean_abs_d_minus_dstar == pytest.approx(h.mean_abs_d_minus_half)
    assert h.region[1] == pytest.approx(norm.ppf(0.995), abs=0.01)  # 2.576
    # D = D* of a shifted G: all of the gap is G's, none is D's.
    q = theory.AffineGenerator(1.0, 1.0).density(GRID)
    d_star = theory.optimal_discriminator(p, q)
    h = theory.distance_from_half(d_star, p, q, GRID)
    assert h.mean_abs_d_minus_dstar == 0.0
    assert h.max_abs_d_minus_half == h.max_abs_dstar_minus_half > 0.4
