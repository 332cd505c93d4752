"""Section 4 of the paper, checked numerically on 1-D densities that are known exactly.

- Proposition 1: for a fixed G, the optimal discriminator is D*(x) = p_data / (p_data + p_g).
- Theorem 1: C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g), whose minimum -log 4 is
  reached only at p_g = p_data, where D* = 1/2.

Integrals are trapezoid sums over a grid (natural logarithms throughout). A generator's density
is exact for an affine G (change of variables); for any 1-D G of a 1-D uniform z it is the
push-forward of a fine, evenly spaced z grid, binned (``pushforward_density``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gankit.core.losses import discriminator_loss
from gankit.nets.noise import sample_noise

LOG4 = math.log(4.0)
SQRT3 = math.sqrt(3.0)


# --------------------------------------------------------------------- integrals on a grid
def integrate(values: np.ndarray, grid: np.ndarray) -> float:
    """Trapezoid rule on a 1-D grid."""
    return float(np.trapezoid(values, grid))


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x log y with 0 log 0 = 0 (the convention that makes KL and JSD finite)."""
    out = np.zeros_like(x, dtype=np.float64)
    pos = x > 0
    out[pos] = x[pos] * np.log(y[pos])
    return out


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g); 1/2 where both densities vanish (any value is optimal)."""
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5, dtype=np.float64),
                     where=total > 0)


def jsd(p: np.ndarray, q: np.ndarray, grid: np.ndarray) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2, in nats; in [0, log 2]."""
    m = 0.5 * (p + q)
    kl_pm = _xlogy(p, np.divide(p, m, out=np.ones_like(m), where=m > 0))
    kl_qm = _xlogy(q, np.divide(q, m, out=np.ones_like(m), where=m > 0))
    return 0.5 * integrate(kl_pm, grid) + 0.5 * integrate(kl_qm, grid)


def total_variation(p: np.ndarray, q: np.ndarray, grid: np.ndarray) -> float:
    """TV(p, q) = (1/2) integral |p - q|; in [0, 1]."""
    return 0.5 * integrate(np.abs(p - q), grid)


def high_mass_region(density: np.ndarray, grid: np.ndarray, mass: float = 0.99) -> np.ndarray:
    """The grid points of the highest-density region holding ``mass`` of the density's mass.

    Outside it (far tails, gaps between modes) neither player sees samples often enough for
    the game to fix D, so distances of D from 1/2 are judged inside it. Evenly spaced grid.
    """
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], not {mass}")
    density = np.asarray(density, np.float64)
    order = np.argsort(density)[::-1]
    cum = np.cumsum(density[order])
    k = int(np.searchsorted(cum, mass * cum[-1])) + 1  # points needed to reach ``mass``
    region = np.zeros(len(density), dtype=bool)
    region[order[:min(k, len(density))]] = True
    return region


@dataclass
class HalfDistance:
    """How far D is from the game's end point D = 1/2, and why, inside ``high_mass_region`` of
    the mixture m = (p_data + p_g)/2."""

    max_abs_d_minus_half: float  # max over the region
    mean_abs_d_minus_half: float  # E_m |D - 1/2| (mass-weighted, whole grid)
    max_abs_dstar_minus_half: float  # the same max for D* of this G: G's share of the gap
    mean_abs_d_minus_dstar: float  # E_m |D - D*|: D's own share
    region: tuple[float, float]  # outermost grid points of the region
    mass: float


def distance_from_half(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, grid: np.ndarray,
                       mass: float = 0.99) -> HalfDistance:
    m = 0.5 * (p_data + p_g)
    m_norm = m / integrate(m, grid)
    where = high_mass_region(m, grid, mass)
    d_star = optimal_discriminator(p_data, p_g)
    gap = np.abs(d - 0.5)
    return HalfDistance(float(gap[where].max()), integrate(m_norm * gap, grid),
                        float(np.abs(d_star - 0.5)[where].max()),
                        integrate(m_norm * np.abs(d - d_star), grid),
                        (float(grid[where].min()), float(grid[where].max())), mass)


def value(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, grid: np.ndarray) -> float:
    """V(D, G) = E_{p_data}[log D] + E_{p_g}[log(1 - D)] for D given on the grid."""
    d = np.clip(d, 1e-300, 1.0)
    return integrate(_xlogy(p_data, d), grid) + integrate(_xlogy(p_g, 1.0 - d + 1e-300), grid)


def virtual_criterion(p_data: np.ndarray, p_g: np.ndarray, grid: np.ndarray) -> float:
    """C(G) = V(D*, G), computed from D* itself (not from the JSD formula it should equal)."""
    return value(optimal_discriminator(p_data, p_g), p_data, p_g, grid)


def criterion_from_jsd(p_data: np.ndarray, p_g: np.ndarray, grid: np.ndarray) -> float:
    """Theorem 1's closed form: -log 4 + 2 JSD(p_data || p_g)."""
    return -LOG4 + 2.0 * jsd(p_data, p_g, grid)


# --------------------------------------------------------------------- generators with a density
class AffineGenerator(nn.Module):
    """x = a z + b for a 1-D z (uniform on [-sqrt 3, sqrt 3] or N(0, 1)); its density is exact."""

    def __init__(self, a: float, b: float, prior: str = "gaussian") -> None:
        super().__init__()
        if a == 0:
            raise ValueError("an affine generator needs a != 0 to have a density")
        self.a, self.b, self.prior, self.noise_dim = float(a), float(b), prior, 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.a * z + self.b

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(n, 1, self.prior, "cpu", generator)

    def density(self, x: np.ndarray) -> np.ndarray:
        """p_g(x) = p_z((x - b) / a) / |a| (change of variables)."""
        z = (np.asarray(x, np.float64).reshape(-1) - self.b) / self.a
        if self.prior == "gaussian":
            pz = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        else:
            pz = np.where(np.abs(z) <= SQRT3, 1 / (2 * SQRT3), 0.0)
        return pz / abs(self.a)


@torch.no_grad()
def pushforward_density(g: nn.Module, grid: np.ndarray, z_points: int = 200_001) -> np.ndarray:
    """Density of x = G(z), z ~ U(-sqrt 3, sqrt 3) in 1-D, on an evenly spaced x ``grid``.

    Deterministic: an evenly spaced z grid (a quadrature of the uniform prior, not a random
    sample) is mapped through G and binned into cells centred on the grid points, so the
    histogram converges to the exact density as ``z_points`` grows, for any (non-monotone) G.
    """
    grid = np.asarray(grid, np.float64)
    step = grid[1] - grid[0]
    edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
    z = torch.linspace(-SQRT3, SQRT3, z_points, dtype=torch.float32).unsqueeze(1)
    device = next(g.parameters()).device
    x = torch.cat([g(c.to(device)).reshape(-1).cpu() for c in z.split(50_000)]).double().numpy()
    counts, _ = np.histogram(x, edges)
    return counts / (z_points * step)


# --------------------------------------------------------------------- D trained alone
def train_discriminator(d: nn.Module, sample_data: Callable[[int], torch.Tensor],
                        sample_g: Callable[[int], torch.Tensor], steps: int = 2000,
                        batch_size: int = 512, lr: float = 1e-3) -> nn.Module:
    """Inner loop of Algorithm 1 run to (near) convergence: D ascends V(D, G) with G fixed.

    Uses the library's own D loss (-V/2) and Adam; ``sample_*`` return (batch, dim) tensors.
    """
    opt = torch.optim.Adam(d.parameters(), lr=lr)
    for _ in range(steps):
        with torch.no_grad():
            real, fake = sample_data(batch_size), sample_g(batch_size)
        loss = discriminator_loss(d(real), d(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return d


@torch.no_grad()
def discriminator_on_grid(d: nn.Module, grid: np.ndarray) -> np.ndarray:
    """D(x) = sigmoid(logit) at the points of a 1-D grid, as float64."""
    x = torch.as_tensor(np.asarray(grid, np.float32)).reshape(-1, 1)
    device = next(d.parameters()).device
    return torch.sigmoid(d(x.to(device))).double().cpu().numpy()


@dataclass
class OptimalDCheck:
    """How far a trained D is from D* on the grid points where (p_data + p_g)/2 is at least
    ``share`` of its peak (elsewhere no sample ever lands and D is unconstrained)."""

    max_abs_error: float
    mean_abs_error: float
    value_trained: float  # V(D, G) of the trained D, by quadrature
    criterion: float  # C(G) = V(D*, G), by quadrature
    criterion_jsd: float  # -log 4 + 2 JSD
    points: int


def check_optimal_discriminator(d: nn.Module, p_data: np.ndarray, p_g: np.ndarray,
                                grid: np.ndarray, share: float = 0.01) -> OptimalDCheck:
    d_x = discriminator_on_grid(d, grid)
    d_star = optimal_discriminator(p_data, p_g)
    mix = 0.5 * (p_data + p_g)
    where = mix >= share * mix.max()
    err = np.abs(d_x - d_star)[where]
    return OptimalDCheck(float(err.max()), float(err.mean()), value(d_x, p_data, p_g, grid),
                         virtual_criterion(p_data, p_g, grid),
                         criterion_from_jsd(p_data, p_g, grid), int(where.sum()))


def optimal_d_experiment(a: float = 0.5, b: float = 1.0, prior: str = "gaussian",
                         steps: int = 1500, seed: int = 0, hidden: tuple[int, ...] = (32, 32)
                         ) -> OptimalDCheck:
    """p_data = N(0, 1), G: x = a z + b fixed; train a toy D alone and compare it with D*."""
    from gankit.data.toy import GaussianMixture
    from gankit.nets.toy import ToyDiscriminator

    p_data = GaussianMixture(np.array([[0.0]]), 1.0)
    g = AffineGenerator(a, b, prior)
    torch.manual_seed(seed)
    d = ToyDiscriminator((1,), list(hidden))
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    train_discriminator(d, lambda n: torch.from_numpy(p_data.sample(n, rng).astype(np.float32)),
                        lambda n: g(g.sample_noise(n, gen)), steps=steps, batch_size=256,
                        lr=3e-3)
    lo, hi = min(-5.0, b - 5 * abs(a)), max(5.0, b + 5 * abs(a))
    grid = np.linspace(lo, hi, 2001)
    return check_optimal_discriminator(d, p_data.density(grid[:, None]), g.density(grid), grid)
