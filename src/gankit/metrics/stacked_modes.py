"""Mode count on Stacked MNIST (VEEGAN, PacGAN): which of the 1,000 digit triples samples hit.

Each of a sample's three channels is classified by the shipped MNIST classifier (the feature
network of FID/KID/PR), the three digits form the mode 100 a + 10 b + c, and the result is the
number of modes hit by at least one sample (26,000 samples in the literature) and the KL
divergence from the samples' mode histogram to the uniform one (0 for a perfect spread, log 1000
= 6.91 when every sample is one mode), with the KL of each channel's digit histogram to uniform
over 10 beside it (how much of the total a skew in digit frequencies explains). The classifier
was trained on MNIST in [0, 1], so samples must be in [0, 1]; a tanh generator's samples are
mapped with (x + 1) / 2 first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from gankit.errors import GankitError
from gankit.metrics.network import FeatureNetwork
from gankit.metrics.score import kl_to_uniform

STACKED_SAMPLES = 26_000  # VEEGAN's and PacGAN's sample count
N_MODES = 1000
_TOLERANCE = 1e-4  # float rounding of (x + 1) / 2 may step just outside [0, 1]


@dataclass
class StackedModes:
    modes_covered: int  # modes with at least one sample
    modes_total: int
    kl_to_uniform: float  # KL(sample mode histogram || uniform), nats
    n_samples: int
    largest_mode: int  # samples in the most frequent mode: a collapse shows here first
    # KL of each channel's (R, G, B) digit histogram to uniform over 10: the part of the KL that
    # a skew in digit frequencies explains, as against triples missing or repeated
    channel_kl: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _check(samples: torch.Tensor) -> None:
    if samples.ndim != 4 or samples.shape[1] != 3:
        raise GankitError("stacked-modes takes Stacked MNIST samples (N, 3, 28, 28), got shape "
                          f"{tuple(samples.shape)}; it applies to data.name = 'stacked_mnist'")
    if len(samples) == 0:
        raise GankitError("stacked-modes needs at least one sample")
    low, high = float(samples.min()), float(samples.max())
    if low < -_TOLERANCE or high > 1 + _TOLERANCE:
        raise GankitError(f"stacked-modes takes samples in [0, 1], got values in [{low:.3g}, "
                          f"{high:.3g}]; map tanh samples with (x + 1) / 2 first")


def digit_triples(samples: torch.Tensor, classifier: FeatureNetwork,
                  progress: bool = False) -> torch.Tensor:
    """The mode (0..999) of each sample (N, 3, H, W) in [0, 1]: 100 R + 10 G + B digits."""
    _check(samples)
    n, _, h, w = samples.shape
    channels = samples.reshape(n * 3, 1, h, w)  # sample i's R, G, B are rows 3i, 3i+1, 3i+2
    _, logits = classifier.extract(channels, progress)
    if logits is None:
        raise GankitError(f"feature network {classifier.name} has no classifier head; "
                          "stacked-modes needs the MNIST classifier")
    digits = logits.argmax(1).view(n, 3)
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def count_modes(triples: torch.Tensor, n_modes: int = N_MODES) -> StackedModes:
    """Modes covered and KL to uniform of a vector of mode indices."""
    triples = triples.long().flatten()
    counts = torch.bincount(triples, minlength=n_modes).tolist()
    channels = (triples // 100, triples // 10 % 10, triples % 10)
    channel_kl = tuple(kl_to_uniform(torch.bincount(c, minlength=10).tolist()) for c in channels)
    return StackedModes(sum(c > 0 for c in counts), n_modes, kl_to_uniform(counts),
                        len(triples), max(counts), channel_kl)


def stacked_modes(samples: torch.Tensor, classifier: FeatureNetwork,
                  progress: bool = False) -> StackedModes:
    return count_modes(digit_triples(samples, classifier, progress))
