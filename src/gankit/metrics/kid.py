"""Kernel Inception Distance analogue: the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 (Binkowski et al., 2018), averaged over random subsets.

The estimate of each subset is the U-statistic (diagonal terms left out), so its expectation
is the true MMD^2: two samples of one distribution give values scattered around zero.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm


def polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between two feature sets, float64."""
    x, y = x.double(), y.double()
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(features_a: torch.Tensor, features_b: torch.Tensor, n_subsets: int = 100,
        subset_size: int = 1000, seed: int = 0, progress: bool = False
        ) -> tuple[float, float]:
    """Mean unbiased MMD^2 over ``n_subsets`` random subsets and its standard error
    (std of the subset estimates / sqrt(n_subsets)); subsets are drawn with a private RNG."""
    size = min(subset_size, len(features_a), len(features_b))
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in tqdm(range(n_subsets), desc="kid", leave=False, disable=not progress):
        ia = torch.randperm(len(features_a), generator=gen)[:size]
        ib = torch.randperm(len(features_b), generator=gen)[:size]
        values.append(mmd2_unbiased(features_a[ia], features_b[ib]))
    v = torch.tensor(values, dtype=torch.float64)
    se = float(v.std(unbiased=True) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), se
