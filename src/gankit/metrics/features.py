"""Feature networks by name: the space in which FID, KID, precision/recall and the classifier
score are measured.

A feature network turns images (N, C, H, W) in [0, 1] into features (N, D) and, when it is a
classifier, logits (N, K). The metric code sees only this interface, so another network plugs
in with ``register_feature_network`` (see docs/evaluation.md, e.g. Inception for RGB data).
Every result records the network's name and the SHA-256 of its weights. A network trained by
``gankit train-classifier`` on a user's images needs no registration: its file describes it
(gankit.metrics.folder_nets), and ``--features-path`` alone selects it.
"""

from __future__ import annotations

from collections.abc import Callable

from gankit.errors import ConfigError, GankitError
from gankit.metrics.folder_nets import read_spec, trained_network
from gankit.metrics.inception import inception_network
from gankit.metrics.network import FeatureNetwork

__all__ = ["FEATURE_NETWORKS", "FeatureNetwork", "load_feature_network",
           "register_feature_network", "resolve_name"]

DEFAULT, TRAINED = "mnist-classifier", "trained"


def _mnist_classifier(path: str | None = None) -> FeatureNetwork:
    from gankit.metrics.classifier import file_digest, load_classifier, shipped_weights_path

    net = load_classifier(path)
    return FeatureNetwork("mnist-classifier", file_digest(path or shipped_weights_path()),
                          (1, 28, 28), net.features, net.logits_from_features)


FEATURE_NETWORKS: dict[str, Callable[..., FeatureNetwork]] = {
    "mnist-classifier": _mnist_classifier,
    "inception": inception_network,
    "trained": trained_network,  # any file written by `gankit train-classifier --set ...`
}


def register_feature_network(name: str, factory: Callable[..., FeatureNetwork]) -> None:
    """Make ``factory(path=None)`` available to `gankit evaluate --features NAME`.

    A name is registered once: replacing a network silently would change what its recorded
    results mean.
    """
    if name in FEATURE_NETWORKS:
        raise GankitError(f"feature network {name!r} is already registered; choose another "
                          "name")
    FEATURE_NETWORKS[name] = factory


def resolve_name(name: str, path: str | None) -> str:
    """The registered network to load: with the default name, a weights file written by
    `gankit train-classifier` for a folder or dataset names its own network ("trained")."""
    if path and name == DEFAULT and read_spec(path) is not None:
        return TRAINED
    return name


def load_feature_network(name: str = "mnist-classifier", path: str | None = None
                         ) -> FeatureNetwork:
    name = resolve_name(name, path)
    if name not in FEATURE_NETWORKS:
        raise ConfigError(f"unknown feature network {name!r}; choose one of "
                          + ", ".join(FEATURE_NETWORKS))
    return FEATURE_NETWORKS[name](path)
