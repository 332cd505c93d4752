"""Improved precision and recall (Kynkaanniemi et al., 2019) from k-NN manifolds.

Each set's manifold is the union of balls around its points, each ball's radius the distance
to the point's k-th nearest neighbour in its own set. Precision: the fraction of *generated*
points inside the *real* manifold (are samples realistic?). Recall: the fraction of *real*
points inside the *generated* manifold (is the data covered?).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)).clamp(min=0)


def knn_radii(points: torch.Tensor, k: int = 3, block: int = 2000) -> torch.Tensor:
    """Squared distance of each point to its k-th nearest other point of the same set."""
    p = points.double()
    out = []
    for i in range(0, len(p), block):
        d = _sq_dists(p[i:i + block], p)
        # The point itself is at distance 0 and is the first of the k + 1 smallest.
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def inside_manifold(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                    block: int = 2000) -> torch.Tensor:
    """Which ``queries`` lie inside at least one ball (centre, radius): a bool per query, so
    that the fraction can be broken down (by class, for one)."""
    q, c = queries.double(), centres.double()
    return torch.cat([(_sq_dists(q[i:i + block], c) <= radii).any(1)
                      for i in range(0, len(q), block)])


def coverage_fraction(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                      block: int = 2000) -> float:
    """Fraction of ``queries`` inside at least one ball (centre, radius) of the manifold."""
    return int(inside_manifold(queries, centres, radii, block).sum()) / len(queries)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                     progress: bool = False) -> tuple[float, float]:
    """(precision, recall) of generated features ``fake`` against real features ``real``."""
    with tqdm(total=4, desc="precision/recall", leave=False, disable=not progress) as bar:
        real_radii = knn_radii(real, k)
        bar.update()
        precision = coverage_fraction(fake, real, real_radii)
        bar.update()
        fake_radii = knn_radii(fake, k)
        bar.update()
        recall = coverage_fraction(real, fake, fake_radii)
        bar.update()
    return precision, recall
