"""The classifier score (the Inception Score's MNIST analogue) and the class histogram.

Score = exp(E_x KL(p(y|x) || p(y))): high when each sample is confidently one class and the
classes are used evenly (10 at best for MNIST). The histogram counts the predicted class of each
sample; its KL divergence to the uniform distribution (0 at best, log 10 = 2.30 when one class
takes everything) measures mode dropping.
"""

from __future__ import annotations

import math

import torch


def classifier_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and standard error of the score over ``splits`` equal parts (in order)."""
    logp = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for part in torch.tensor_split(logp, splits):
        p_y = torch.logsumexp(part, 0) - math.log(len(part))  # log of the marginal p(y)
        kl = (part.exp() * (part - p_y)).sum(1).mean()
        scores.append(float(kl.exp()))
    s = torch.tensor(scores, dtype=torch.float64)
    se = float(s.std(unbiased=True) / math.sqrt(len(s))) if len(s) > 1 else float("nan")
    return float(s.mean()), se


def class_histogram(logits: torch.Tensor) -> list[int]:
    """Number of samples predicted as each class."""
    return torch.bincount(logits.argmax(1), minlength=logits.shape[1]).tolist()


def kl_to_uniform(counts: list[int]) -> float:
    """KL(histogram || uniform) in nats; empty classes contribute nothing."""
    total = sum(counts)
    k = len(counts)
    return sum(c / total * math.log(c / total * k) for c in counts if c > 0)
