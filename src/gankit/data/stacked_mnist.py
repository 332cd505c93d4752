"""Stacked MNIST: three MNIST digits as the R, G and B channels, 1,000 modes (000-999).

The set of the mode-collapse literature (VEEGAN, PacGAN): image i stacks digits a_i, b_i, c_i
drawn from three independent fixed permutations of the MNIST split, so the set has as many
images as the split and the label is 100 * a + 10 * b + c. The permutations come from a fixed
seed, the same on every machine. Counting the modes a generator covers needs an MNIST digit
classifier applied to each channel (gankit.metrics, the evaluation issue).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from gankit.data.images import ImageData
from gankit.data.mnist import load_mnist

SEED = 1000


def stack_digits(images: torch.Tensor, labels: torch.Tensor, seed: int = SEED
                 ) -> ImageData:
    """Stack (N, 1, H, W) grey digits three at a time into (N, 3, H, W), labels 0..999."""
    rng = np.random.default_rng(seed)
    n = len(images)
    idx = [torch.from_numpy(rng.permutation(n)) for _ in range(3)]
    x = torch.cat([images[i] for i in idx], dim=1)
    y = labels[idx[0]] * 100 + labels[idx[1]] * 10 + labels[idx[2]]
    return ImageData(x, y)


def load_stacked_mnist(split: str = "train", data_dir: str | os.PathLike | None = None
                       ) -> ImageData:
    mnist = load_mnist(split, data_dir)
    assert mnist.labels is not None
    return stack_digits(mnist.images, mnist.labels)
