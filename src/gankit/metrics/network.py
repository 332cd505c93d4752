"""The interface of a feature network: images in, features (and a classifier's logits) out.

Its own module so that the registry of networks (gankit.metrics.features) and the networks
it lists (gankit.metrics.inception, ...) both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from gankit.errors import GankitError


@dataclass
class FeatureNetwork:
    name: str
    digest: str  # SHA-256 of the weights file: results name the exact features they used
    image_shape: tuple[int, int, int] | None  # (C, H, W) it accepts; None: any
    features_fn: Callable[[torch.Tensor], torch.Tensor]
    logits_fn: Callable[[torch.Tensor], torch.Tensor] | None = None  # from features
    batch_size: int = 500
    # Image shape (C, H, W) -> how images are converted and resized before the network, for
    # networks whose input differs from the data's (recorded beside every figure).
    preprocess: Callable[[tuple[int, ...]], str] | None = None

    def check(self, images: torch.Tensor) -> None:
        if self.image_shape is not None and tuple(images.shape[1:]) != self.image_shape:
            raise GankitError(f"feature network {self.name} takes images of shape "
                              f"{self.image_shape}, got {tuple(images.shape[1:])}; choose a "
                              "feature network made for this dataset (for your own images: "
                              "`gankit train-classifier --set ...`, docs/evaluation.md)")

    def extract(self, images: torch.Tensor, progress: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (float64) and, for a classifier, logits (float64), computed in batches."""
        self.check(images)
        feats, logits = [], []
        steps = range(0, len(images), self.batch_size)
        with torch.no_grad():
            for i in tqdm(steps, desc=f"features ({self.name})", leave=False,
                          disable=not progress or len(steps) < 4):
                f = self.features_fn(images[i:i + self.batch_size].float())
                feats.append(f.double())
                if self.logits_fn is not None:
                    logits.append(self.logits_fn(f).double())
        return torch.cat(feats), (torch.cat(logits) if logits else None)
