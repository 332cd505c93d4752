"""Pictures of the game on low-dimensional data: samples over the true density, D's decision
surface, and the paper's Figure 1 (p_data, p_g, D and the map x = G(z)) with an animation.

Matplotlib's object API only (no pyplot state), rendered with Agg; files are written to a
temporary name and renamed, like every other output.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from gankit.data.toy import Distribution
from gankit.io.atomic import atomic_path

DATA_STYLE = {"color": "black", "ls": ":", "lw": 2.0, "label": "p_data"}
G_STYLE = {"color": "tab:green", "ls": "-", "lw": 1.8, "label": "p_g"}
D_STYLE = {"color": "tab:blue", "ls": "--", "lw": 1.8, "label": "D(x)"}


def _save(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
    return path


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, np.float64).reshape(len(x), -1)


def density_grid(dist: Distribution, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, density on the n x n mesh) over the distribution's box, for 2-D plots."""
    lo, hi = dist.box()
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    xx, yy = np.meshgrid(xs, ys)
    dens = dist.density(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(n, n)
    return xs, ys, dens


def plot_samples(ax, samples: torch.Tensor | np.ndarray, dist: Distribution,
                 title: str = "") -> None:
    """1-D: histogram of the samples over the true density. 2-D: the samples (green) over the
    true density (grey shades)."""
    x = _as_numpy(samples)
    if dist.dim == 1:
        lo, hi = dist.box()
        grid = np.linspace(lo[0], hi[0], 400)
        span = (min(lo[0], x.min()), max(hi[0], x.max()))
        ax.hist(x[:, 0], bins=60, range=span, density=True, color="tab:green", alpha=0.45,
                label="samples")
        ax.plot(grid, dist.density(grid[:, None]), **DATA_STYLE)
        ax.legend(loc="upper right", fontsize=8)
    else:
        xs, ys, dens = density_grid(dist)
        ax.contourf(xs, ys, np.sqrt(dens), levels=12, cmap="Greys")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="tab:green", alpha=0.6, linewidths=0)
        lo, hi = dist.box()
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)


def save_sample_plot(samples: torch.Tensor | np.ndarray, dist: Distribution,
                     path: str | os.PathLike, title: str = "") -> Path:
    fig = Figure(figsize=(4, 4) if dist.dim == 2 else (5, 3))
    plot_samples(fig.add_subplot(), samples, dist, title)
    return _save(fig, path)


@torch.no_grad()
def plot_decision_surface(ax, d: nn.Module, dist: Distribution,
                          samples: torch.Tensor | np.ndarray | None = None, n: int = 150) -> None:
    """D(x) over the plane (blue = 'fake', red = 'real'), the true density's contours and,
    if given, G's samples."""
    lo, hi = dist.box()
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    xx, yy = np.meshgrid(xs, ys)
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    device = next(d.parameters()).device
    d_x = torch.sigmoid(d(pts.to(device))).cpu().numpy().reshape(n, n)
    mesh = ax.pcolormesh(xs, ys, d_x, cmap="coolwarm", vmin=0, vmax=1, shading="auto")
    _, _, dens = density_grid(dist, n)
    ax.contour(xs, ys, dens, levels=[dens.max() * 0.05], colors="black", linewidths=0.6)
    if samples is not None:
        x = _as_numpy(samples)
        ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:green", alpha=0.5, linewidths=0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="D(x)")


def save_decision_surface(d: nn.Module, dist: Distribution, path: str | os.PathLike,
                          samples: torch.Tensor | np.ndarray | None = None,
                          title: str = "") -> Path:
    fig = Figure(figsize=(4.6, 4))
    ax = fig.add_subplot()
    plot_decision_surface(ax, d, dist, samples)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def save_sample_and_surface_rows(rows: list[tuple[str, torch.Tensor | np.ndarray, nn.Module]],
                                 dist: Distribution, path: str | os.PathLike) -> Path:
    """One row per (title, G's samples, D): samples over the true density beside D(x)."""
    fig = Figure(figsize=(7.2, 3.3 * len(rows)))
    for i, (title, samples, d) in enumerate(rows):
        plot_samples(fig.add_subplot(len(rows), 2, 2 * i + 1), samples, dist, title)
        ax = fig.add_subplot(len(rows), 2, 2 * i + 2)
        plot_decision_surface(ax, d, dist, samples)
        ax.set_title("D(x); black: 5% density contour", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi=70)


# --------------------------------------------------------------------- Figure 1
@dataclass
class GameSnapshot:
    """One moment of a 1-D game: everything Figure 1 draws, as numbers."""

    step: int
    grid: np.ndarray  # x points
    p_data: np.ndarray
    p_g: np.ndarray
    d: np.ndarray  # D(x) on the grid
    z: np.ndarray  # evenly spaced z values drawn as mapping lines
    g_z: np.ndarray  # G(z) for them
    title: str = ""
    region: np.ndarray | None = None  # grid mask shaded grey: where distances are judged


def plot_figure1_panel(ax, snap: GameSnapshot, d_star: np.ndarray | None = None,
                       legend: bool = False) -> None:
    """The paper's layout: densities and D above the x line; a z line below, joined to x by
    the map x = G(z), so that where G contracts, p_g piles up."""
    top = max(1.0, float(snap.p_data.max()), float(np.nanmax(snap.p_g))) * 1.05
    if snap.region is not None:
        ax.fill_between(snap.grid, 0, top, where=snap.region, color="0.92", lw=0,
                        label="99% of mass")
    ax.plot(snap.grid, snap.p_data, **DATA_STYLE)
    ax.plot(snap.grid, snap.p_g, **G_STYLE)
    ax.plot(snap.grid, snap.d, **D_STYLE)
    if d_star is not None:
        ax.plot(snap.grid, d_star, color="tab:blue", lw=0.8, alpha=0.6, label="D*(x)")
    x_line, z_line = -0.12 * top, -0.45 * top
    lo, hi = snap.grid[0], snap.grid[-1]
    # z in [-sqrt 3, sqrt 3] is drawn over the middle 60% of the x axis.
    z_pos = lo + (hi - lo) * (0.2 + 0.6 * (snap.z - snap.z.min()) / np.ptp(snap.z))
    ax.hlines([x_line, z_line], lo, hi, colors="black", lw=0.8)
    for zp, gx in zip(z_pos, snap.g_z, strict=True):
        if lo <= gx <= hi:
            ax.annotate("", (gx, x_line), (zp, z_line),
                        arrowprops={"arrowstyle": "->", "lw": 0.6, "color": "0.35"})
    ax.text(lo, x_line, "x ", ha="right", va="center", fontsize=9)
    ax.text(lo, z_line, "z ", ha="right", va="center", fontsize=9)
    ax.set_ylim(z_line - 0.08 * top, top)
    ax.set_xlim(lo, hi)
    ax.set_yticks([0, 0.5, 1.0])
    if snap.title:
        ax.set_title(snap.title, fontsize=9)
    if legend:
        ax.legend(loc="upper left", fontsize=7, frameon=False)


def save_figure1(panels: list[tuple[GameSnapshot, np.ndarray | None]],
                 path: str | os.PathLike) -> Path:
    """Panels side by side, each (snapshot, optional D* to overlay)."""
    fig = Figure(figsize=(3.6 * len(panels), 3.2))
    for i, (snap, d_star) in enumerate(panels):
        plot_figure1_panel(fig.add_subplot(1, len(panels), i + 1), snap, d_star, legend=i == 0)
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def save_animation(snapshots: list[GameSnapshot], path: str | os.PathLike,
                   frame_ms: int = 120) -> Path:
    """An animated GIF (Pillow) of Figure 1's panel over training, one frame per snapshot."""
    frames = []
    for snap in snapshots:
        fig = Figure(figsize=(4.8, 3.4))
        plot_figure1_panel(fig.add_subplot(), snap, legend=True)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        frames.append(Image.open(io.BytesIO(buf.getvalue())).convert("P", palette=Image.ADAPTIVE))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=frame_ms, loop=0)
    return path


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for n small panels."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols
