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

import matplotlib
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
# The densities share one scale: up to DENSITY_TOP times p_data's peak. Where p_g rises above
# it (G piling its mass onto a narrow spike) the curve is cut at the top and its peak written
# there, so that a spike never flattens p_data. D has its own [0, 1] axis on the right, drawn
# so that D = 1 sits at the top of the density scale.
DENSITY_TOP = 1.5
# Matplotlib's path simplification would shave one-bin spikes of p_g; Figure 1 keeps them.
EXACT_PATHS = {"path.simplify": False}
D_STAR_STYLE = {"color": "tab:blue", "ls": "-", "lw": 0.8, "alpha": 0.6, "label": "D*(x)"}


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
    label: str = ""  # the panel's letter, "(a)", written below it as in the paper


def display_range(snaps: list[GameSnapshot], mass: float = 0.999) -> tuple[float, float]:
    """The x range that shows every snapshot's p_data and p_g: the union of their central
    ``mass`` intervals, widened by 10% each side and kept within the grid."""
    ends = []
    for snap in snaps:
        for p in (snap.p_data, snap.p_g):
            cdf = np.cumsum(np.nan_to_num(p))
            if cdf[-1] > 0:
                cdf = cdf / cdf[-1]
                ends += [snap.grid[np.searchsorted(cdf, (1 - mass) / 2)],
                         snap.grid[min(np.searchsorted(cdf, (1 + mass) / 2), len(cdf) - 1)]]
    grid = snaps[0].grid
    if not ends:
        return float(grid[0]), float(grid[-1])
    lo, hi = min(ends), max(ends)
    pad = 0.1 * (hi - lo)
    return max(float(grid[0]), lo - pad), min(float(grid[-1]), hi + pad)


def _mark_clipped(ax, grid: np.ndarray, p_g: np.ndarray, top: float) -> None:
    """For each stretch of p_g above ``top``: a marker at the top and its peak value."""
    above = np.nan_to_num(p_g) > top
    edges = np.flatnonzero(np.diff(np.r_[0, above.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        i = start + int(np.argmax(p_g[start:stop]))
        ax.plot([grid[i]], [top], marker="^", ms=5, color=G_STYLE["color"], clip_on=False)
        ax.annotate(f"p_g {p_g[i]:.3g}", (grid[i], top), xytext=(5, 1),
                    textcoords="offset points", fontsize=7, color=G_STYLE["color"],
                    ha="left", va="bottom")


def plot_figure1_panel(ax, snap: GameSnapshot, d_star: np.ndarray | None = None,
                       xlim: tuple[float, float] | None = None,
                       axis_labels: tuple[bool, bool] = (True, True)) -> list:
    """The paper's layout: densities and D above the x line; a z line below, joined to x by
    the map x = G(z), so that where G contracts, p_g piles up. ``axis_labels`` names the
    density axis (left) and D's (right). Returns the legend's handles."""
    top = DENSITY_TOP * float(snap.p_data.max())
    lo, hi = xlim or (float(snap.grid[0]), float(snap.grid[-1]))
    handles = []
    if snap.region is not None:
        handles.append(ax.fill_between(snap.grid, 0, top, where=snap.region, color="0.92",
                                       lw=0, label="99% of mass"))
    handles += ax.plot(snap.grid, snap.p_data, **DATA_STYLE)
    handles += ax.plot(snap.grid, np.minimum(snap.p_g, top), **G_STYLE)
    _mark_clipped(ax, snap.grid, snap.p_g, top)
    x_line, z_line = -0.22 * top, -0.55 * top
    bottom, head = z_line - 0.06 * top, 1.12 * top
    # D on its own axis, scaled so that D = 0 and 1 meet densities 0 and ``top``.
    twin = ax.twinx()
    twin.set_ylim(bottom / top, head / top)
    twin.set_yticks([0, 0.5, 1])
    twin.tick_params(labelsize=7, colors=D_STYLE["color"])
    handles += twin.plot(snap.grid, snap.d, **D_STYLE)
    if d_star is not None:
        handles += twin.plot(snap.grid, d_star, **D_STAR_STYLE)
    # z in [-sqrt 3, sqrt 3] is drawn over the middle 60% of the x range shown.
    z_pos = lo + (hi - lo) * (0.2 + 0.6 * (snap.z - snap.z.min()) / np.ptp(snap.z))
    ax.hlines([x_line, z_line], lo, hi, colors="black", lw=0.8)
    for zp, gx in zip(z_pos, snap.g_z, strict=True):
        if lo <= gx <= hi:
            ax.annotate("", (gx, x_line), (zp, z_line),
                        arrowprops={"arrowstyle": "->", "lw": 0.6, "color": "0.35"})
    ax.text(lo, x_line, "x ", ha="right", va="center", fontsize=9)
    ax.text(lo, z_line, "z ", ha="right", va="center", fontsize=9)
    ax.set_ylim(bottom, head)
    ax.set_xlim(lo, hi)
    ax.set_yticks(_density_ticks(top))
    ax.tick_params(labelsize=7)
    # The frame holds the densities only: x's scale runs along their zero line, above the map.
    ax.spines["left"].set_bounds(0, top)
    twin.spines["right"].set_bounds(0, 1)
    ax.spines[["top", "bottom", "right"]].set_visible(False)
    twin.spines[["top", "bottom", "left"]].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    scale = ax.secondary_xaxis((0 - bottom) / (head - bottom))
    scale.tick_params(labelsize=7, length=2, pad=1)
    if axis_labels[0]:
        ax.set_ylabel("density", fontsize=8)
    if axis_labels[1]:
        twin.set_ylabel("D(x)", fontsize=8, color=D_STYLE["color"])
    if snap.title:
        ax.set_title(snap.title, fontsize=9)
    if snap.label:
        ax.set_xlabel(snap.label, fontsize=10)
    return handles


def _density_ticks(top: float) -> list[float]:
    """Two or three round values within [0, top]: 0, and steps of 0.2, 0.5, 1, 2 or 5 x 10^k."""
    for step in (m * 10.0 ** e for e in range(-3, 4) for m in (0.2, 0.5, 1, 2, 5)):
        if top / step <= 3:
            return [round(k * step, 6) for k in range(int(top / step + 1e-9) + 1)]
    return [0.0, top]


def _figure_legend(fig: Figure, handles: list) -> None:
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))


@matplotlib.rc_context(EXACT_PATHS)
def save_figure1(panels: list[tuple[GameSnapshot, np.ndarray | None]],
                 path: str | os.PathLike) -> Path:
    """Panels side by side, each (snapshot, optional D* to overlay), on one x range; the
    legend below them lists every curve once."""
    fig = Figure(figsize=(3.5 * len(panels), 3.6))
    xlim = display_range([snap for snap, _ in panels])
    handles: dict[str, object] = {}
    for i, (snap, d_star) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        outer = (i == 0, i == len(panels) - 1)
        for h in plot_figure1_panel(ax, snap, d_star, xlim, outer):
            handles.setdefault(h.get_label(), h)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _figure_legend(fig, list(handles.values()))
    return _save(fig, path, dpi=110)


@matplotlib.rc_context(EXACT_PATHS)
def save_animation(snapshots: list[GameSnapshot], path: str | os.PathLike,
                   frame_ms: int = 120) -> Path:
    """An animated GIF (Pillow) of Figure 1's panel over training, one frame per snapshot,
    every frame on the same axes."""
    xlim = display_range(snapshots)
    frames = []
    for snap in snapshots:
        fig = Figure(figsize=(4.8, 3.8))
        handles = plot_figure1_panel(fig.add_subplot(), snap, xlim=xlim)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        _figure_legend(fig, handles)
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
