"""Feature networks trained on a user's own images, rebuilt from their weights file alone.

``gankit train-classifier`` on a labelled folder (one subfolder per class) trains a
``FolderClassifier``; on an unlabelled folder, a ``FolderAutoencoder`` whose bottleneck is the
feature. Either file's safetensors metadata holds everything needed to rebuild the network
(format, architecture, input channels and size, classes or feature size), so that
``--features-path NET.safetensors`` loads it with no registration and no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from gankit.errors import CheckpointError
from gankit.metrics.network import FeatureNetwork

FORMAT = "gankit-feature-network/1"
CLASSIFIER, AUTOENCODER = "folder-classifier", "folder-autoencoder"
ARCHS = (CLASSIFIER, AUTOENCODER)
MIN_SIZE = 4  # two pixels left after the first pooling
CLASSIFIER_FEATURES = 128
AUTOENCODER_FEATURES = 64


def widths(size: int) -> tuple[int, ...]:
    """Conv widths, one block (conv, batch norm, ReLU, 2x2 max pool) per halving down to about
    4x4: one block at 8x8, two at 16 or 28, three at 32, four from 64 on."""
    blocks = max(1, min(4, size.bit_length() - 3))
    return (16, 32, 64, 128)[:blocks]


def _pooled(size: int) -> int:
    """The side of the grid the fully connected layer reads (at most 4x4)."""
    return min(4, size >> len(widths(size)))


class _Encoder(nn.Module):
    def __init__(self, channels: int, size: int, out: int) -> None:
        super().__init__()
        chans = (channels, *widths(size))
        self.blocks = nn.Sequential(*(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b),
                          nn.ReLU(), nn.MaxPool2d(2))
            for a, b in zip(chans[:-1], chans[1:], strict=True)))
        self.pool = nn.AdaptiveAvgPool2d(_pooled(size))
        self.fc = nn.Linear(chans[-1] * _pooled(size) ** 2, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.blocks(x)).flatten(1))


class FolderClassifier(nn.Module):
    """Conv blocks, 128 ReLU features, then one logit per class (the MNIST classifier's shape,
    sized to the folder's images)."""

    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        self.encoder = _Encoder(channels, size, CLASSIFIER_FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(CLASSIFIER_FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))

    def logits_from_features(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f)


class FolderAutoencoder(nn.Module):
    """The same conv encoder down to a linear bottleneck (the features), and a decoder that
    upsamples back to the image (sigmoid pixels); trained on the reconstruction error."""

    def __init__(self, channels: int, size: int, feature_dim: int = AUTOENCODER_FEATURES
                 ) -> None:
        super().__init__()
        w, s = widths(size), _pooled(size)
        self.size, self.grid = size, (w[-1], s, s)
        self.encoder = _Encoder(channels, size, feature_dim)
        self.expand = nn.Linear(feature_dim, w[-1] * s * s)
        ups = (*reversed(w), w[0])
        self.decoder = nn.Sequential(*(
            nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, padding=1),
                          nn.ReLU()) for a, b in zip(ups[:-1], ups[1:], strict=True)))
        self.to_image = nn.Conv2d(w[0], channels, 3, padding=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        h = self.decoder(F.relu(self.expand(f)).view(len(f), *self.grid))
        h = F.interpolate(h, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.to_image(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.features(x))


def build(spec: dict[str, str]) -> nn.Module:
    """The untrained network a metadata ``spec`` describes."""
    channels, size = int(spec["channels"]), int(spec["image_size"])
    if spec["arch"] == CLASSIFIER:
        return FolderClassifier(channels, size, int(spec["classes"]))
    return FolderAutoencoder(channels, size, int(spec["feature_dim"]))


def make_spec(arch: str, channels: int, size: int, classes: list[str] | None) -> dict[str, str]:
    """The safetensors metadata (strings only) that ``build`` reads back."""
    feature_dim = CLASSIFIER_FEATURES if arch == CLASSIFIER else AUTOENCODER_FEATURES
    return {"format": FORMAT, "arch": arch, "channels": str(channels), "image_size": str(size),
            "classes": str(len(classes or [])), "class_names": json.dumps(classes or []),
            "feature_dim": str(feature_dim)}


def read_spec(path: str | Path) -> dict[str, str] | None:
    """The metadata of a network gankit trained on a folder, or None for any other file
    (another network's weights, a damaged file, a missing one)."""
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception:  # safetensors raises several types for a damaged or foreign file
        return None
    return meta if meta.get("format") == FORMAT and meta.get("arch") in ARCHS else None


def load_trained(path: str | Path) -> tuple[nn.Module, dict[str, str]]:
    """The network at ``path`` and its spec, in eval mode, or a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"feature network weights {path} not found; train them with "
                              "`gankit train-classifier --set data.name='\"folder\"' --set "
                              "data.path=DIR --out PATH`")
    spec = read_spec(path)
    if spec is None:
        raise CheckpointError(f"{path} is not a feature network written by `gankit "
                              "train-classifier` (damaged, or weights of another network)")
    try:
        net = build(spec)
        net.load_state_dict(load_file(str(path)))
    except Exception as exc:  # a bad spec value, missing or mis-shaped tensors
        raise CheckpointError(f"feature network weights {path} are damaged or do not fit "
                              f"their own description ({str(exc).splitlines()[0]})") from None
    return net.eval(), spec


def trained_network(path: str | None = None) -> FeatureNetwork:
    """The ``trained`` entry of the feature-network registry: any file `gankit
    train-classifier` wrote for a folder or dataset other than the shipped MNIST classifier."""
    from gankit.metrics.classifier import file_digest

    if not path:
        raise CheckpointError("a trained feature network needs its weights file "
                              "(--features-path NET.safetensors)")
    net, spec = load_trained(path)
    c, s = int(spec["channels"]), int(spec["image_size"])
    logits = net.logits_from_features if spec["arch"] == CLASSIFIER else None
    return FeatureNetwork(f"{spec['arch']}:{Path(path).name}", file_digest(path), (c, s, s),
                          net.features, logits)
