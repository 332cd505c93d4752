"""A dataset held in memory as one tensor, read by index: no per-sample Python on the hot path."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ImageData:
    """Float32 samples (N, *shape): images (N, C, H, W) or points (N, D) of a low-dimensional
    distribution (gankit.data.toy), with optional integer labels.

    Loaders give images in [0, 1]; gankit.data.load_for_model moves them to the model's range.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.ndim not in (2, 4):
            raise ValueError("samples must be images (N, C, H, W) or points (N, D), got shape "
                             f"{tuple(self.images.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """(C, H, W) of one image, or (D,) of one point."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def pixel_mean(self) -> torch.Tensor:
        """Mean of each pixel over the set, flattened: the marginals G's output bias starts at."""
        return self.images.reshape(len(self), -1).mean(0)

    def flat(self) -> torch.Tensor:
        return self.images.reshape(len(self), -1)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled index batches for one epoch; the last incomplete batch is dropped."""
    order = torch.randperm(n, generator=generator)
    full = n // batch_size
    return list(order[: full * batch_size].view(full, batch_size))
