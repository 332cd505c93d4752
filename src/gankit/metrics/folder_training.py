"""Train a feature network on any images: ``gankit train-classifier --set data.KEY=VALUE``.

A labelled set (a folder with one subfolder per class, or a named dataset with labels) trains
a ``FolderClassifier``; an unlabelled folder (or a single class) trains a ``FolderAutoencoder``
whose bottleneck is the feature. A fifth of the images (fixed by the seed) is held out: the
epoch with the best held-out accuracy (or reconstruction error) is kept. The weights are
written atomically as safetensors whose metadata rebuilds the network, beside a JSON card.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gankit.config import Config, DataConfig, merge, parse_set
from gankit.data.images import ImageData
from gankit.errors import ConfigError, DataError
from gankit.io.atomic import atomic_path, write_text_atomic
from gankit.metrics.classifier import _shift, accuracy, file_digest
from gankit.metrics.folder_nets import AUTOENCODER, CLASSIFIER, MIN_SIZE, build, make_spec

MIN_IMAGES = 10  # a held-out fifth of at least two images
MIN_STEPS_PER_EPOCH = 25  # small folders are cycled: an epoch is at least this many batches
HELD_OUT = 0.2


@dataclass
class FeatureNetReport:
    path: Path
    arch: str
    image_shape: tuple[int, int, int]
    classes: list[str]
    n_train: int
    n_held_out: int
    held_out: float  # accuracy (classifier) or mean squared error per pixel (autoencoder)
    best_epoch: int
    seconds: float
    note: str = ""


def data_config(sets: list[str], data_dir: str | Path | None = None) -> DataConfig:
    """The [data] section from ``--set data.KEY=VALUE`` assignments (other sections refused)."""
    cfg = Config()
    if data_dir:
        cfg = merge(cfg, {"data": {"data_dir": str(data_dir)}}, "--data-dir")
    for assignment in sets:
        nested = parse_set(assignment)
        if "data" not in nested:
            raise ConfigError(f"train-classifier takes --set data.KEY=VALUE only; "
                              f"{assignment!r} sets [{next(iter(nested))}]")
        cfg = merge(cfg, nested, f"--set {assignment}")
    return cfg.data


def training_images(cfg: DataConfig) -> tuple[ImageData, list[str]]:
    """Images in [0, 1] at data.image_size and data.color, and the class names (none when the
    images are unlabelled). A folder's size defaults to its images' common square size."""
    from gankit.data import convert, load_dataset
    from gankit.data.folder import class_names, common_size, list_images, load_folder

    if cfg.name == "folder":
        root = Path(cfg.path).expanduser()
        size = cfg.image_size or common_size(root) or 0
        if not size and root.is_dir() and list_images(root):
            raise ConfigError(f"the images under {cfg.path} differ in size or are not square; "
                              "set data.image_size, e.g. --set data.image_size=64")
        data = load_folder(cfg.path, size or 1, cfg.color)  # 1: let it name what is missing
        names = class_names(cfg.path) if data.labels is not None else []
    else:
        data = load_dataset(cfg.name, "train", cfg.data_dir)
        if data.images.ndim != 4:
            raise ConfigError(f"data.name = {cfg.name!r} holds points, not images; a feature "
                              "network needs images")
        data = convert(data, cfg.image_size, cfg.color)
        names = ([str(i) for i in range(int(data.labels.max()) + 1)]
                 if data.labels is not None else [])
    c, h, w = data.shape
    if h < MIN_SIZE or h != w:
        raise ConfigError(f"images of {h}x{w} are too small for a feature network; set "
                          f"data.image_size to at least {MIN_SIZE}")
    if len(data) < MIN_IMAGES:
        raise DataError(f"{len(data)} images are too few to train and hold out; a feature "
                        f"network needs at least {MIN_IMAGES}")
    return data, names


def _split(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=gen)
    n_out = max(2, round(HELD_OUT * n))
    return order[n_out:], order[:n_out]


def _mse(net: nn.Module, images: torch.Tensor, batch_size: int = 500) -> float:
    net.eval()
    with torch.no_grad():
        total = sum(float(F.mse_loss(net(images[i:i + batch_size]),
                                     images[i:i + batch_size], reduction="sum"))
                    for i in range(0, len(images), batch_size))
    return total / images.numel()


def _fit(net: nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor],
         score_fn: Callable[[], float], higher_is_better: bool, n_train: int, epochs: int,
         gen: torch.Generator, batch_size: int, lr: float, progress: bool
         ) -> tuple[dict[str, torch.Tensor], float, int]:
    """Adam with a one-cycle learning rate; the state of the best held-out epoch."""
    per_epoch = max(math.ceil(n_train / batch_size), MIN_STEPS_PER_EPOCH)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch)
    best, best_state, best_epoch = None, None, 0
    order = torch.randperm(n_train, generator=gen)
    pos = 0
    for epoch in range(1, epochs + 1):
        net.train()
        for _ in tqdm(range(per_epoch), desc=f"feature network epoch {epoch}", leave=False,
                      disable=None if progress else True):
            if pos + batch_size > n_train:  # reshuffle; every batch is full (batch norm)
                order, pos = torch.randperm(n_train, generator=gen), 0
            loss = loss_fn(order[pos:pos + batch_size])
            pos += batch_size
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        score = score_fn()
        if progress:
            tqdm.write(f"epoch {epoch}: held-out {'accuracy' if higher_is_better else 'mse'} "
                       f"{score:.4f}")
        if best is None or (score > best if higher_is_better else score < best):
            best, best_epoch = score, epoch
            best_state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    assert best_state is not None and best is not None
    return best_state, best, best_epoch


def train_feature_network(cfg: DataConfig, out: str | Path, epochs: int = 8, seed: int = 0,
                          batch_size: int = 128, lr: float = 3e-3, progress: bool = True,
                          command: str = "") -> FeatureNetReport:
    """Train on ``cfg``'s images (see the module docstring) and write OUT and OUT.json."""
    start = time.perf_counter()
    data, names = training_images(cfg)
    note = ""
    if len(names) == 1:
        names, note = [], "one class only: trained an autoencoder instead of a classifier"
    arch = CLASSIFIER if names else AUTOENCODER
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train_idx, held_idx = _split(len(data), gen)
    x, held = data.images[train_idx], data.images[held_idx]
    c, size = data.shape[0], data.shape[1]
    spec = make_spec(arch, c, size, names)
    net = build(spec)
    batch_size = min(batch_size, len(x))
    max_shift = 2 if size >= 16 else 1
    if arch == CLASSIFIER:
        assert data.labels is not None
        y, held_y = data.labels[train_idx], data.labels[held_idx]
        state, best, best_epoch = _fit(
            net, lambda i: F.cross_entropy(net(_shift(x[i], gen, max_shift)), y[i]),
            lambda: accuracy(net, held, held_y), True, len(x), epochs, gen, batch_size, lr,
            progress)
    else:
        state, best, best_epoch = _fit(
            net, lambda i: F.mse_loss(net(x[i]), x[i]), lambda: _mse(net, held), False,
            len(x), epochs, gen, batch_size, lr, progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(state, str(tmp), metadata={**spec, "seed": str(seed), "epochs": str(epochs)})
    report = FeatureNetReport(out, arch, (c, size, size), names, len(x), len(held), best,
                              best_epoch, time.perf_counter() - start, note)
    card = {"format": spec["format"], "arch": arch, "channels": c, "image_size": size,
            "classes": len(names), "class_names": names, "feature_dim": int(spec["feature_dim"]),
            "data": {"name": cfg.name, "path": cfg.path, "image_size": size,
                     "color": "grey" if c == 1 else "rgb"},
            "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "n_train": len(x), "n_held_out": len(held), "best_epoch": best_epoch,
            ("held_out_accuracy" if arch == CLASSIFIER else "held_out_mse"): best,
            "torch": torch.__version__, "sha256": file_digest(out), "command": command,
            "note": note}
    write_text_atomic(out.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return report
