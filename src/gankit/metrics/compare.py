"""Two sets of images compared in a feature network's space: ``gankit fid A B``.

Each side is a folder of images or a run directory (its generator's samples), as pytorch-fid
compares two folders. Both sides are brought to the network's input (size by antialiased
bilinear resizing, colour by luma or by repeating grey), the same way, so the figure measures
the images and not their conversion; two sides of different sizes are refused rather than
resized unequally. Side A is the reference: precision is the share of B inside A's manifold.
The formulas are the registry's (gankit.metrics.registry): nothing is computed twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit import sampling
from gankit.data import convert
from gankit.data.folder import common_size, list_images, load_folder
from gankit.data.images import ImageData
from gankit.errors import ConfigError, DataError
from gankit.io import checkpoint as ckpt
from gankit.metrics.builtin import Inputs
from gankit.metrics.evaluate import parse_metrics
from gankit.metrics.features import DEFAULT, load_feature_network, resolve_name
from gankit.metrics.network import FeatureNetwork
from gankit.metrics.registry import REFERENCE, REGISTRY, metric_names, names_needing

FORMAT = "gankit-fid/1"
DEFAULT_SAMPLES = 10_000  # a run's samples when neither side is a folder to match in count
MIN_IMAGES = 4  # precision/recall's k = 3 nearest neighbours need four points a side


def two_set_metrics() -> tuple[str, ...]:
    """The metrics that compare two sets (the others read one set: `gankit evaluate`)."""
    return tuple(m for m in metric_names() if m in names_needing(REFERENCE))


@dataclass
class Side:
    """One side: a folder or a run, its own square size (None: a folder of mixed sizes)."""

    path: Path
    kind: str  # "folder" or "run"
    size: int | None
    checkpoint: Path | None = None
    images: torch.Tensor | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        assert self.images is not None
        c, h, w = self.images.shape[1:]
        what = (f"{len(self.images)} images" if self.kind == "folder"
                else f"{len(self.images)} samples of {self.checkpoint}, seed "
                     f"{self.detail['seed']}")
        return f"{self.path} ({self.kind}: {what}, {h}x{w} {'grey' if c == 1 else 'RGB'})"


def _is_run(path: Path) -> bool:
    return (path / "checkpoints").is_dir() or (path / ckpt.MANIFEST).exists() \
        or (path / ckpt.TENSORS).exists()


def inspect(path: str | Path) -> Side:
    """What a path is, checked before anything is loaded."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"{path} is not a folder; give a folder of PNG/JPEG/WebP images or a "
                        "run directory")
    if _is_run(p):
        resolved, _ = ckpt.resolve(p)
        _, state = ckpt.read_checkpoint(resolved)
        shape = state.get("image_shape", [])
        if len(shape) != 3:
            raise DataError(f"{path} is a run of {shape}-dimensional points, not images")
        return Side(p, "run", shape[1] if shape[1] == shape[2] else None, resolved)
    if not list_images(p):
        raise DataError(f"no PNG/JPEG/WebP images under {path}")
    return Side(p, "folder", common_size(p))


def common_side_size(a: Side, b: Side, net: FeatureNetwork) -> int:
    """The one size both sides are loaded at, or a one-line refusal."""
    if a.size and b.size and a.size != b.size:
        raise DataError(f"{a.path} holds {a.size}x{a.size} images and {b.path} "
                        f"{b.size}x{b.size}: resizing them unequally would be measured too; "
                        "bring both sides to one size first")
    size = a.size or b.size or (net.image_shape[1] if net.image_shape else None)
    if size is None:
        raise DataError(f"neither {a.path} nor {b.path} holds images of one square size and "
                        f"{net.name} takes any size; bring one side to a single size first")
    return size


def load_side(side: Side, size: int, n_samples: int, seed: int) -> None:
    """Fill ``side.images`` (N, C, size, size) in [0, 1]: the folder's images, decoded once
    (resized and centre-cropped only when they differ in size), or ``n_samples`` samples."""
    if side.kind == "folder":
        side.images = load_folder(side.path, size, "auto").images
        return
    g = sampling.load_generator(side.checkpoint)
    side.images = sampling.for_display(sampling.sample(g, n_samples, seed=seed), g)
    side.detail["seed"] = seed


def to_network(side: Side, net: FeatureNetwork) -> str:
    """Convert ``side.images`` to the network's input in place; returns what was done."""
    assert side.images is not None
    c, h, _ = side.images.shape[1:]
    have = f"{h}x{h} {'grey' if c == 1 else 'RGB'}"
    if net.image_shape is None:
        return net.preprocess(tuple(side.images.shape[1:])) if net.preprocess else have
    nc, nh, _ = net.image_shape
    if c == 3 and nc == 1 and net.name == DEFAULT:
        raise ConfigError(f"{side.path} holds RGB images and the MNIST classifier reads grey "
                          "digits; give --features-path NET.safetensors (trained by `gankit "
                          "train-classifier` on your images) or --features inception "
                          "--features-path W")
    side.images = convert(ImageData(side.images), nh, "grey" if nc == 1 else "rgb").images
    want = f"{nh}x{nh} {'grey' if nc == 1 else 'RGB'}"
    how = [w for w, done in (("antialiased bilinear", nh != h),
                             ("luma" if nc == 1 else "grey repeated", nc != c)) if done]
    return f"{have} -> {want} ({', '.join(how)})" if how else have


@dataclass
class _Reference:
    """What the registry's fid/kid/pr rows read (gankit.metrics.builtin.Source): side A."""

    feats: torch.Tensor
    progress: bool
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3

    def reference_features(self) -> torch.Tensor:
        return self.feats


def compare(a: str | Path, b: str | Path, metrics: str | None = None,
            features: str | None = None, features_path: str | None = None,
            n_samples: int | None = None, seed: int = 0, progress: bool = True
            ) -> dict[str, Any]:
    """The report of A against B: sides, feature network, conversions and result rows."""
    from gankit.io.run_dir import versions

    chosen = parse_metrics(metrics or ",".join(two_set_metrics()))
    other = [m for m in chosen if m not in two_set_metrics()]
    if other:
        raise ConfigError(f"gankit fid compares two sets with {', '.join(two_set_metrics())}; "
                          f"{', '.join(other)} reads one set of samples: use `gankit evaluate`")
    if n_samples is not None and n_samples < MIN_IMAGES:
        raise ConfigError(f"--samples {n_samples} is too few; give at least {MIN_IMAGES}")
    sides = inspect(a), inspect(b)
    net = load_feature_network(resolve_name(features or DEFAULT, features_path), features_path)
    start = time.perf_counter()
    size = common_side_size(*sides, net)
    for s in sorted(sides, key=lambda s: s.kind != "folder"):  # folders first: runs match them
        loaded = [o.images for o in sides if o.images is not None]
        load_side(s, size, n_samples or (len(loaded[0]) if loaded else DEFAULT_SAMPLES), seed)
        if len(s.images) < MIN_IMAGES:
            raise DataError(f"{s.path} holds {len(s.images)} images; comparing sets needs at "
                            f"least {MIN_IMAGES} a side")
    descriptions = [s.describe() for s in sides]
    preprocess = [to_network(s, net) for s in sides]
    fa, _ = net.extract(sides[0].images, progress)
    x = Inputs(sides[1].images)
    x.feats, x.logits = net.extract(x.samples, progress)
    x.counts = {"n_a": len(fa), "n_b": len(x.feats)}
    src = _Reference(fa, progress)
    rows = [r for m in REGISTRY.values() if m.name in chosen for r in m.compute(src, x)]
    return {"format": FORMAT, "a": descriptions[0], "b": descriptions[1],
            "feature_network": {"name": net.name, "sha256": net.digest,
                                "input": list(net.image_shape) if net.image_shape else None},
            "preprocess": {"a": preprocess[0], "b": preprocess[1]}, "seed": seed,
            "results": rows, "seconds": round(time.perf_counter() - start, 2),
            "versions": versions()}
