"""Mode coverage of samples from a mixture whose modes (centres, common std) are known.

Each sample is assigned to its nearest mode; it is *high quality* when it lies within
``n_std`` standard deviations of that mode. A mode is *covered* when it receives at least
``min_share`` of all samples as high-quality samples (default: a quarter of the share a
uniform spread would give it, 1 / (4 K)). The KL divergence from the histogram of
high-quality samples over the modes to the uniform histogram is 0 for a perfect spread and
log K when every good sample sits on one mode.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass
class ModeCoverage:
    modes_covered: int
    modes_total: int
    high_quality: float  # share of samples within n_std stds of their nearest mode
    kl_to_uniform: float  # KL(histogram of high-quality samples || uniform), nats

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def mode_coverage(samples: np.ndarray | torch.Tensor, modes: np.ndarray, std: float,
                  n_std: float = 3.0, min_share: float | None = None) -> ModeCoverage:
    x = samples.detach().cpu().double().numpy() if isinstance(samples, torch.Tensor) \
        else np.asarray(samples, np.float64)
    modes = np.asarray(modes, np.float64)
    x = x.reshape(len(x), -1)
    k = len(modes)
    if len(x) == 0:
        raise ValueError("mode coverage needs at least one sample")
    min_share = 1.0 / (4 * k) if min_share is None else min_share
    dist = np.sqrt(((x[:, None, :] - modes[None]) ** 2).sum(-1))  # (N, K)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(x)), nearest] <= n_std * std
    counts = np.bincount(nearest[good], minlength=k)
    covered = int((counts >= min_share * len(x)).sum())
    if counts.sum() == 0:
        kl = math.log(k)  # no good sample at all: as far from uniform as it gets
    else:
        p = counts / counts.sum()
        nz = p > 0
        kl = float((p[nz] * np.log(p[nz] * k)).sum())
    return ModeCoverage(covered, k, float(good.mean()), kl)
