"""Low-dimensional distributions whose density is known exactly, and their datasets.

They let the theory be checked (optimal D, JSD, -log 4) and mode collapse be counted: each
distribution samples (numpy, from a given Generator) and evaluates its exact density. The
Gaussian mixtures also know their modes (centres and common standard deviation).

Datasets (``data.name``): gaussian-1d, mixture-1d, ring8, grid25, two-moons. Each split is a
fixed sample (its own seed), so every machine trains on the same points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import logsumexp

from gankit.data.images import ImageData
from gankit.errors import DataError

_CHUNK = 2048  # points per block when a density is evaluated against many nodes


class GaussianMixture:
    """Isotropic Gaussian components with one common standard deviation ``std``."""

    def __init__(self, means: np.ndarray, std: float, weights: np.ndarray | None = None) -> None:
        self.means = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
        self.std = float(std)
        k = len(self.means)
        self.weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, float)
        if not math.isclose(self.weights.sum(), 1.0) or (self.weights < 0).any():
            raise ValueError("mixture weights must be non-negative and sum to 1")

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def modes(self) -> np.ndarray:
        """The component centres: what a mode-coverage count looks for."""
        return self.means

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        comp = rng.choice(len(self.means), size=n, p=self.weights)
        return self.means[comp] + self.std * rng.standard_normal((n, self.dim))

    def log_density(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # (N, K)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return logsumexp(np.log(self.weights)[None] + log_norm - sq / (2 * self.std**2), axis=1)

    def density(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_density(x))

    def box(self, margin: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
        """A box holding all but a negligible share of the mass (``margin`` stds past the modes)."""
        return self.means.min(0) - margin * self.std, self.means.max(0) + margin * self.std


class TwoMoons:
    """scikit-learn's two half circles, with points drawn uniformly along the arcs plus
    isotropic Gaussian noise; the density is that noise convolved with the arcs, integrated
    over the arc parameter by the trapezoid rule (``arc_points`` nodes per arc)."""

    dim = 2
    modes = None
    std = None

    def __init__(self, noise: float = 0.1, arc_points: int = 361) -> None:
        self.noise = float(noise)
        t = np.linspace(0.0, math.pi, arc_points)
        upper = np.stack([np.cos(t), np.sin(t)], 1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
        self._arcs = np.concatenate([upper, lower])
        w = np.full(arc_points, 1.0)
        w[[0, -1]] = 0.5  # trapezoid weights
        w = w / w.sum() / 2  # each arc carries half the mass
        self._w = np.concatenate([w, w])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        t = rng.uniform(0.0, math.pi, n)
        lower = rng.random(n) < 0.5
        x = np.where(lower, 1 - np.cos(t), np.cos(t))
        y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
        return np.stack([x, y], 1) + self.noise * rng.standard_normal((n, 2))

    def log_density(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        log_norm = -math.log(2 * math.pi * self.noise**2)
        out = np.empty(len(x))
        for i in range(0, len(x), _CHUNK):  # bounded memory: (chunk, arc nodes) at a time
            sq = ((x[i:i + _CHUNK, None, :] - self._arcs[None]) ** 2).sum(-1)
            out[i:i + _CHUNK] = logsumexp(np.log(self._w)[None] + log_norm
                                          - sq / (2 * self.noise**2), axis=1)
        return out

    def density(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_density(x))

    def box(self, margin: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
        pad = margin * self.noise
        return np.array([-1 - pad, -0.5 - pad]), np.array([2 + pad, 1 + pad])


Distribution = GaussianMixture | TwoMoons


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.1) -> GaussianMixture:
    """Modes evenly spaced on a circle: the usual mode-collapse test bed. The std is 0.1, wider
    than the 0.02 often used, so that runs of a few hundred steps on a CPU can be scored; the
    modes stay 15 std apart."""
    angle = 2 * math.pi * np.arange(n_modes) / n_modes
    return GaussianMixture(radius * np.stack([np.cos(angle), np.sin(angle)], 1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """side x side modes on a square lattice centred at the origin."""
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    xx, yy = np.meshgrid(ticks, ticks, indexing="ij")
    return GaussianMixture(np.stack([xx.ravel(), yy.ravel()], 1), std)


DISTRIBUTIONS = {
    "gaussian-1d": lambda: GaussianMixture(np.array([[2.0]]), 0.5),
    "mixture-1d": lambda: GaussianMixture(np.array([[-2.0], [2.0]]), 0.5),
    "ring8": ring,
    "grid25": grid,
    "two-moons": TwoMoons,
}

_SPLITS = {"train": (20_000, 1), "valid": (5_000, 2), "test": (5_000, 3)}  # size, seed


@dataclass
class ToyData(ImageData):
    """A fixed sample (N, D) of a known distribution, with the distribution itself attached."""

    distribution: Distribution | None = None


def distribution(name: str) -> Distribution:
    if name not in DISTRIBUTIONS:
        raise DataError(f"unknown toy distribution {name!r}; choose one of "
                        + ", ".join(DISTRIBUTIONS))
    return DISTRIBUTIONS[name]()


def load_toy(name: str, split: str = "train") -> ToyData:
    if split not in _SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(_SPLITS)}")
    dist = distribution(name)
    size, seed = _SPLITS[split]
    points = dist.sample(size, np.random.default_rng(seed))
    return ToyData(torch.from_numpy(points.astype(np.float32)), distribution=dist)


def toy_loader(name: str):
    """A LOADERS entry for ``name`` (the data directory is not used: points are generated)."""

    def load(split: str = "train", data_dir: object = None) -> ToyData:
        return load_toy(name, split)

    return load
