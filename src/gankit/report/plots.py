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

matplotlib.use("Agg")  # before pyplot: render off-screen, whatever the user's backend

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gankit.report.data import RunData  # noqa: E402

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


def curves_png(runs: Sequence[RunData], panels: Sequence[Panel]) -> bytes | None:
    """A PNG of ``panels`` over steps (left) and training seconds (right); None when empty."""
    drawn = False
    height = 2.9 * len(panels)
    fig = Figure(figsize=(11, height), dpi=DPI)
    # Fixed margins (in inches, turned into fractions): constrained layout would draw twice.
    fig.subplots_adjust(left=0.07, right=0.985, wspace=0.16, hspace=0.55,
                        top=1 - 0.3 / height, bottom=0.5 / height)
    axes = fig.subplots(len(panels), 2, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, panel in enumerate(panels):
        for col, xname in enumerate(("step", "time")):
            ax = axes[row][col]
            for r, run in enumerate(runs):
                for q, (key, label) in enumerate(panel.keys):
                    s = run.series(key)
                    if not len(s):
                        continue
                    x = s.step if xname == "step" else s.time
                    several = len(runs) > 1
                    colour = colours[(r if several else q) % len(colours)]
                    style = STYLES[q % len(STYLES)] if several else "-"
                    name = f"{run.name}: {label}" if several else label
                    marker = "o" if len(s) < 30 else None
                    ax.plot(x, s.value, style, color=colour, label=name, marker=marker,
                            markersize=3, linewidth=1.2)
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
            if ax.lines:
                ax.legend(fontsize=8)
    if not drawn:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
