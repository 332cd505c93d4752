"""The paper's Figures 2 and 3 for a trained generator, and a memorisation check.

Figure 2: fair random samples (the first draws of a seed, nothing picked), the last column the
nearest training image (squared L2 in pixel space, over the whole training set) of the sample
beside it. Memorisation: nearest-training-image distances of samples beside those of held-out
test images; a generator that copies training images would sit far to the left of the test set.
Figure 3: linear interpolation between random points of z space, one pair per row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from gankit.figures.grid import image_grid
from gankit.io.atomic import atomic_path
from gankit.nets.noise import sample_noise


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, block: int = 500,
                       candidates: int = 8, progress: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared L2 distance (float64) and index of each query's nearest reference image.

    Candidates come from one float32 matrix product per block; the best few are re-scored
    exactly in float64, so the returned neighbour is the true one.
    """
    q = queries.reshape(len(queries), -1).float()
    r = reference.reshape(len(reference), -1).float()
    centre = r.mean(0, keepdim=True)
    qc, rc = q - centre, r - centre
    r_sq = (rc * rc).sum(1)
    k = min(candidates, len(r))
    dists, index = [], []
    for i in tqdm(range(0, len(q), block), desc="nearest training images", leave=False,
                  disable=not progress):
        qb = qc[i:i + block]
        approx = torch.addmm(r_sq.unsqueeze(0), qb, rc.T, alpha=-2.0)
        cand = approx.topk(k, dim=1, largest=False).indices
        exact = ((r[cand].double() - q[i:i + block, None].double()) ** 2).sum(-1)
        best = exact.argmin(1)
        dists.append(exact.gather(1, best[:, None])[:, 0])
        index.append(cand.gather(1, best[:, None])[:, 0])
    return torch.cat(dists), torch.cat(index)


def _save_png(img: Image.Image, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def _noise(g: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    return sample_noise(n, g.noise_dim, g.prior, "cpu", torch.Generator().manual_seed(seed))


def _generate(g: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z); a conditional generator draws sample i of class i mod classes."""
    from gankit.sampling import class_labels

    device = next(g.parameters()).device
    y = class_labels(g, len(z), None)
    with torch.no_grad():
        return (g(z.to(device)) if y is None else g(z.to(device), y.to(device))).cpu()


def figure2(g: torch.nn.Module, train: torch.Tensor, path: str | os.PathLike, rows: int = 6,
            cols: int = 5, seed: int = 0, scale: int = 3) -> Path:
    """Rows of ``cols`` samples; a framed last column: the neighbour of the sample beside it."""
    samples = _generate(g, _noise(g, rows * cols, seed))
    last = samples.view(rows, cols, *samples.shape[1:])[:, -1]
    _, idx = nearest_neighbours(last, train)
    grid = torch.cat([samples.view(rows, cols, *samples.shape[1:]),
                      train[idx].unsqueeze(1)], dim=1).flatten(0, 1)
    img = Image.fromarray(image_grid(grid, nrow=cols + 1)).convert("RGB")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    h, w = samples.shape[-2:]
    left = (cols * (w + 1)) * scale
    ImageDraw.Draw(img).rectangle([left, 0, img.width - 1, img.height - 1],
                                  outline=(230, 160, 0), width=max(1, scale))
    return _save_png(img, path)


def figure3(g: torch.nn.Module, path: str | os.PathLike, rows: int = 6, steps: int = 10,
            seed: int = 0, scale: int = 3) -> Path:
    """Each row: G(z) for z moving linearly from one random point of z space to another."""
    ends = _noise(g, 2 * rows, seed).view(rows, 2, -1)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]
    images = _generate(g, z.reshape(rows * steps, -1))
    img = Image.fromarray(image_grid(images, nrow=steps))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return _save_png(img, path)


@dataclass
class Memorisation:
    sample_dists: np.ndarray  # squared L2 to the nearest training image, one per sample
    test_dists: np.ndarray  # the same for held-out test images

    def summary(self) -> dict[str, float]:
        return {"sample_median": float(np.median(self.sample_dists)),
                "test_median": float(np.median(self.test_dists)),
                "sample_min": float(self.sample_dists.min()),
                "test_min": float(self.test_dists.min())}


def memorisation(g: torch.nn.Module, train: torch.Tensor, test: torch.Tensor, n: int = 1000,
                 seed: int = 0, progress: bool = False) -> Memorisation:
    samples = _generate(g, _noise(g, n, seed))
    ds, _ = nearest_neighbours(samples, train, progress=progress)
    dt, _ = nearest_neighbours(test[:n], train, progress=progress)
    return Memorisation(ds.numpy(), dt.numpy())


def memorisation_figure(m: Memorisation, path: str | os.PathLike) -> Path:
    """Overlaid histograms of nearest-training-image distances: samples vs test images."""
    from matplotlib.figure import Figure  # not pyplot: the user's backend stays theirs

    fig = Figure(figsize=(6, 3.5), dpi=120)
    ax = fig.add_subplot()
    hi = float(np.percentile(np.concatenate([m.sample_dists, m.test_dists]), 99.5))
    bins = np.linspace(0, hi, 50)
    ax.hist(m.test_dists, bins, alpha=0.6, label=f"test images (n={len(m.test_dists)})")
    ax.hist(m.sample_dists, bins, alpha=0.6, label=f"samples (n={len(m.sample_dists)})")
    ax.set_xlabel("squared L2 distance to the nearest training image")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
