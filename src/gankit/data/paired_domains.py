"""Two unpaired domains A and B, for DiscoGAN: built-in pairs with a known relation, or folders.

Built in (``data.name``):

- ``mnist-rot90``, ``mnist-invert``: A = the first 25,000 of the paper's 50,000 MNIST training
  digits, B = the other 25,000 rotated by 90 degrees (counter-clockwise) or colour-inverted
  (1 - x). No digit of A has its image in B, so the data are unpaired by construction while
  the right mapping A -> B is known. Split ``test``: A = the official test digits (with labels),
  B = the same digits transformed, paired: the ground truth the learned map is scored against.
- ``toy-rings``: the paper's toy experiment in 2-D. A = 8 Gaussians on a circle, B = 8 Gaussians
  on a 3x3 grid without its centre; points are stored as (N, 2, 1, 1) "images".
- ``folders``: any two image folders (``discogan.folder_a``, ``discogan.folder_b``), read like
  ``data.name = "folder"`` (gankit.data.folder): resized and centre-cropped to
  ``data.image_size``, grey or RGB by ``data.color``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit.data.folder import load_folder
from gankit.data.images import ImageData
from gankit.data.mnist import load_mnist
from gankit.errors import ConfigError, DataError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Relation:
    """A known map between the domains: ``forward`` takes A to B, ``inverse`` B back to A."""

    forward: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], Tensor]


RELATIONS = {
    "rot90": Relation(lambda x: torch.rot90(x, 1, dims=(-2, -1)),
                      lambda x: torch.rot90(x, -1, dims=(-2, -1))),
    "invert": Relation(lambda x: 1.0 - x, lambda x: 1.0 - x),
}


@dataclass
class TwoDomains:
    """Samples of domain A and of domain B; an epoch visits min(|A|, |B|) of each."""

    a: ImageData
    b: ImageData
    relation: Relation | None = None  # known for the built-in MNIST pairs only

    def __post_init__(self) -> None:
        if self.a.shape != self.b.shape:
            raise DataError(f"domains A and B must have the same image shape, got {self.a.shape} "
                            f"and {self.b.shape}; set data.image_size and data.color")

    def __len__(self) -> int:
        return min(len(self.a), len(self.b))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.a.shape


def mnist_domains(relation: str, split: str = "train",
                  data_dir: str | os.PathLike | None = None) -> TwoDomains:
    """A = one half of MNIST, B = the other half under ``relation`` (see the module doc)."""
    rel = RELATIONS[relation]
    if split == "test":
        test = load_mnist("test", data_dir)
        return TwoDomains(test, ImageData(rel.forward(test.images), test.labels), rel)
    full = load_mnist(split, data_dir)
    half = len(full) // 2
    a = ImageData(full.images[:half], full.labels[:half])
    b = ImageData(rel.forward(full.images[half:2 * half]), full.labels[half:2 * half])
    return TwoDomains(a, b, rel)


# ---------------------------------------------------------------- the toy experiment
TOY_SIGMA = 0.05
TOY_MODES_A = torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)]
                            for k in range(8)])
TOY_MODES_B = torch.tensor([[x, y] for y in (1.0, 0.0, -1.0) for x in (-1.0, 0.0, 1.0)
                            if (x, y) != (0.0, 0.0)])
TOY_SIZES = {"train": 8000, "test": 2000}


def mixture(modes: Tensor, n: int, sigma: float, generator: torch.Generator
            ) -> tuple[Tensor, Tensor]:
    """``n`` points of an equal-weight Gaussian mixture and the index of each one's mode."""
    labels = torch.randint(len(modes), (n,), generator=generator)
    points = modes[labels] + sigma * torch.randn(n, modes.shape[1], generator=generator)
    return points, labels


def toy_domains(split: str = "train", seed: int = 0) -> TwoDomains:
    """A fixed sample of each mixture (A and B drawn independently, so unpaired)."""
    gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    n = TOY_SIZES[split]
    pa, la = mixture(TOY_MODES_A, n, TOY_SIGMA, gen)
    pb, lb = mixture(TOY_MODES_B, n, TOY_SIGMA, gen)
    return TwoDomains(ImageData(pa[:, :, None, None], la), ImageData(pb[:, :, None, None], lb))


BUILT_IN = ("mnist-rot90", "mnist-invert", "toy-rings", "folders")


def load_domains(name: str, split: str = "train", data_dir: str | os.PathLike | None = None, *,
                 folder_a: str = "", folder_b: str = "", image_size: int = 64,
                 color: str = "rgb", seed: int = 0) -> TwoDomains:
    """The two domains called ``name`` (one of BUILT_IN); folders are read by
    gankit.data.folder (cached, resized to ``image_size``, ``color`` grey or rgb)."""
    if name in ("mnist-rot90", "mnist-invert"):
        return mnist_domains(name.split("-", 1)[1], split, data_dir)
    if name == "toy-rings":
        return toy_domains(split, seed)
    if name == "folders":  # no test split: every split is the two folders
        for key, folder in (("folder_a", folder_a), ("folder_b", folder_b)):
            if not folder:
                raise ConfigError(f"data.name = 'folders' needs discogan.{key}")
        return TwoDomains(load_folder(folder_a, image_size, color),
                          load_folder(folder_b, image_size, color))
    raise ConfigError(f"data.name = {name!r} is not a pair of domains; DiscoGAN takes one of "
                      + ", ".join(BUILT_IN))
