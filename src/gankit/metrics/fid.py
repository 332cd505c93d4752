"""Frechet distance between Gaussians fitted to two feature sets (FID, in a chosen network).

FD = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)). The trace of the matrix square
root is computed in float64 from the eigenvalues of S1^(1/2) S2 S1^(1/2), which is symmetric
positive semi-definite, so no complex parts or sqrtm iterations are involved.
"""

from __future__ import annotations

import torch


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance (ddof 1) in float64."""
    f = features.double()
    mu = f.mean(0)
    c = f - mu
    return mu, c.T @ c / (len(f) - 1)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor,
                     cov2: torch.Tensor) -> float:
    mu1, mu2, cov1, cov2 = (t.double() for t in (mu1, mu2, cov1, cov2))
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float(((mu1 - mu2) ** 2).sum() + cov1.trace() + cov2.trace() - 2 * tr_sqrt)


def fid(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """FD between the Gaussians of two feature sets (N, D)."""
    return frechet_distance(*feature_stats(features_a), *feature_stats(features_b))
