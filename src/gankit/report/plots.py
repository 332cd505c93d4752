"""The report's curves, drawn with matplotlib into PNG bytes (no display, no files).

Every figure has two columns, the same curves over steps and over training seconds, so that a
slow segment (a busy machine, an evaluation) shows as a stretch in one and not the other.
With several runs the curves are overlaid: one colour per run, one line style per quantity.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # not pyplot: the user's backend stays theirs

from gankit.report.data import RunData

STYLES = ("-", "--", ":", "-.")
DPI = 90


@dataclass(frozen=True)
class Panel:
    """One row of a figure: some quantities sharing a y axis."""

    title: str
    keys: tuple[tuple[str, str], ...]  # (log key, label)
    hline: tuple[float, str] | None = None  # a reference level and its label


TRAINING_PANELS = {
    "losses": [Panel("Losses", (("d_loss", "D loss"), ("g_loss", "G loss")))],
    "discriminator": [Panel("Mean discriminator output", (("d_real", "D(x)"),
                                                          ("d_fake", "D(G(z))")),
                            hline=(0.5, "1/2: D at the game's optimum"))],
    "optimiser": [Panel("Learning rate", (("lr", "lr"),)),
                  Panel("Momentum", (("momentum", "momentum"),))],
    "throughput": [Panel("Throughput", (("samples_per_s", "samples/s"),))],
}


def metric_panel(key: str) -> Panel:
    return Panel(key, ((key, key),))


def curves_png(runs: Sequence[RunData], panels: Sequence[Panel],
               over_time: bool = True) -> bytes | None:
    """A PNG of ``panels`` over steps (left) and training seconds (right); None when empty.

    Without ``over_time`` the panels stand side by side, over steps only (for schedules).
    """
    rows, cols = (len(panels), 2) if over_time else (1, len(panels))
    height = 2.9 * rows
    fig = Figure(figsize=(11, height), dpi=DPI)
    # Fixed margins (in inches, turned into fractions): constrained layout would draw twice.
    fig.subplots_adjust(left=0.07, right=0.985, wspace=0.16, hspace=0.55,
                        top=1 - 0.3 / height, bottom=0.5 / height)
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    cells = [(panel, x) for panel in panels for x in (("step", "time") if over_time else ("step",))]
    drawn = [_draw(ax, runs, panel, x) for ax, (panel, x) in zip(axes, cells, strict=True)]
    if not any(drawn):
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _draw(ax: Axes, runs: Sequence[RunData], panel: Panel, xname: str) -> bool:
    """One panel over ``xname`` ("step" or "time"); False when no run logged its quantities."""
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    several, drawn = len(runs) > 1, False
    for r, run in enumerate(runs):
        for q, (key, label) in enumerate(panel.keys):
            s = run.series(key)
            if not len(s):
                continue
            ax.plot(s.step if xname == "step" else s.time, s.value,
                    STYLES[q % len(STYLES)] if several else "-",
                    color=colours[(r if several else q) % len(colours)],
                    label=f"{run.name}: {label}" if several else label,
                    marker="o" if len(s) < 30 else None, markersize=3, linewidth=1.2)
            drawn = True
        if xname == "step":
            for step in run.resumed_steps:
                ax.axvline(step, color="grey", linewidth=0.8, linestyle=":")
    if panel.hline is not None:
        ax.axhline(panel.hline[0], color="black", linewidth=0.8, linestyle="--",
                   label=panel.hline[1])
    # values such as 0.693147 +- 1e-6 read better whole than as an offset
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_title(f"{panel.title} over {'steps' if xname == 'step' else 'training time'}",
                 fontsize=10)
    ax.set_xlabel("step" if xname == "step" else "training seconds")
    ax.grid(alpha=0.3)
    if any(not line.get_label().startswith("_") for line in ax.lines):
        ax.legend(fontsize=8)
    return drawn


def class_shares_png(runs: Sequence[RunData]) -> bytes | None:
    """The collapse monitor's class histogram over steps, one stacked bar per measurement and
    one row per run: a collapse shows as one colour filling the bars. None when no run has one."""
    found = [(run, *run.class_shares()) for run in runs]
    found = [f for f in found if len(f[1])]
    if not found:
        return None
    height = 2.9 * len(found)
    fig = Figure(figsize=(11, height), dpi=DPI)
    fig.subplots_adjust(left=0.07, right=0.9, hspace=0.55, top=1 - 0.3 / height,
                        bottom=0.5 / height)
    colours = matplotlib.colormaps["tab10"].colors
    for ax, (run, steps, shares) in zip(fig.subplots(len(found), 1, squeeze=False)[:, 0], found,
                                        strict=True):
        gaps = np.diff(np.unique(steps))  # a resumed run may measure a step twice
        width = 0.8 * (float(gaps.min()) if len(gaps) else max(float(steps[0]), 1.0))
        bottom = np.zeros(len(steps))
        for k in range(shares.shape[1]):
            ax.bar(steps, shares[:, k], width, bottom=bottom, color=colours[k % 10], label=str(k))
            bottom += shares[:, k]
        name = f"{run.name}: c" if len(runs) > 1 else "C"
        ax.set_title(f"{name}lass shares of G's samples (collapse monitor, shipped classifier)",
                     fontsize=10)
        ax.set(xlabel="step", ylabel="share of samples", ylim=(0, 1))
        ax.legend(fontsize=7, title="class", title_fontsize=7, loc="center left",
                  bbox_to_anchor=(1.01, 0.5))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
