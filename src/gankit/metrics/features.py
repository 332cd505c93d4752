"""Feature networks by name: the space in which FID, KID, precision/recall and the classifier
score are measured.

A feature network turns images (N, C, H, W) in [0, 1] into features (N, D) and, when it is a
classifier, logits (N, K). The metric code sees only this interface, so another network plugs
in with ``register_feature_network`` (see docs/evaluation.md, e.g. Inception for RGB data).
Every result records the network's name and the SHA-256 of its weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from gankit.errors import ConfigError, GankitError


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
                              "feature network made for this dataset")

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


def _mnist_classifier(path: str | None = None) -> FeatureNetwork:
    from gankit.metrics.classifier import file_digest, load_classifier, shipped_weights_path

    net = load_classifier(path)
    return FeatureNetwork("mnist-classifier", file_digest(path or shipped_weights_path()),
                          (1, 28, 28), net.features, net.logits_from_features)


def _inception(path: str | None = None) -> FeatureNetwork:
    from gankit.metrics.inception import inception_network

    return inception_network(path)


FEATURE_NETWORKS: dict[str, Callable[..., FeatureNetwork]] = {
    "mnist-classifier": _mnist_classifier,
    "inception": _inception,
}


def register_feature_network(name: str, factory: Callable[..., FeatureNetwork]) -> None:
    """Make ``factory(path=None)`` available to `gankit evaluate --features NAME`."""
    FEATURE_NETWORKS[name] = factory


def load_feature_network(name: str = "mnist-classifier", path: str | None = None
                         ) -> FeatureNetwork:
    if name not in FEATURE_NETWORKS:
        raise ConfigError(f"unknown feature network {name!r}; choose one of "
                          + ", ".join(FEATURE_NETWORKS))
    return FEATURE_NETWORKS[name](path)
