"""Figure 1's drawing: one density scale that a spike of p_g cannot flatten, D on its own
[0, 1] axis, tick labels that never overprint, the paper's line styles and panel letters."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from gankit.figures.game import (
    DENSITY_TOP,
    GameSnapshot,
    display_range,
    plot_figure1_panel,
    save_figure1,
)

X = np.linspace(-2.5, 5, 801)
P_DATA = np.exp(-(X - 2) ** 2 / 0.5) / np.sqrt(0.5 * np.pi)  # N(2, 0.5^2), peak 0.798


def _snap(spike: float = 0.0, label: str = "") -> GameSnapshot:
    p_g = np.where(np.abs(X - 2.2) < 0.6, 0.5 / 0.6, 0.0)
    p_g[np.argmin(np.abs(X - 1.6))] += spike
    z = np.linspace(-1.7, 1.7, 5)
    return GameSnapshot(60, X, P_DATA, p_g, 0.2 + 0.6 / (1 + np.exp(2 * (X - 2))), z,
                        2.2 + 0.35 * z, "step 60", None, label)


def _panel(snap, d_star=None):
    fig = Figure(figsize=(4, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    handles = plot_figure1_panel(ax, snap, d_star, display_range([snap]))
    fig.canvas.draw()
    twin = next(a for a in fig.axes if a is not ax and a.get_shared_x_axes().joined(a, ax))
    return fig, ax, twin, handles


def test_a_spike_of_p_g_keeps_the_common_scale_and_is_marked():
    top = DENSITY_TOP * P_DATA.max()
    for spike in (0.0, 50.0):
        fig, ax, twin, handles = _panel(_snap(spike))
        assert ax.get_ylim()[1] == np.float64(1.12 * top)  # the same scale with or without
        p_g_line = next(h for h in handles if h.get_label() == "p_g")
        assert p_g_line.get_ydata().max() <= top
        texts = [t.get_text() for t in ax.texts]
        assert ("p_g 50" in texts) == (spike > 0)  # the peak value, written at the top


def test_d_has_its_own_axis_with_0_and_1_at_the_density_scale_ends():
    fig, ax, twin, _ = _panel(_snap(10.0))
    top = DENSITY_TOP * P_DATA.max()
    for d, density in ((0.0, 0.0), (1.0, top)):
        assert np.allclose(twin.transData.transform((1.0, d)),
                           ax.transData.transform((1.0, density)))
    assert list(twin.get_yticks()) == [0, 0.5, 1]


def test_tick_labels_do_not_overprint():
    fig, ax, twin, _ = _panel(_snap(10.0))
    renderer = fig.canvas.get_renderer()
    for axis in (ax.yaxis, twin.yaxis):
        boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                 if t.get_visible() and t.get_text()]
        assert len(boxes) >= 3
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), (a, b)


def test_line_styles_are_the_papers_and_the_letter_sits_below():
    _, ax, _, handles = _panel(_snap(label="(b)"), d_star=0.5 * np.ones_like(X))
    assert ax.get_xlabel() == "(b)"
    style = {h.get_label(): (h.get_linestyle(), h.get_color()) for h in handles}
    assert style["p_data"] == (":", "black")  # dotted black
    assert style["p_g"] == ("-", "tab:green")  # solid green
    assert style["D(x)"] == ("--", "tab:blue")  # dashed blue


def test_display_range_holds_both_densities(tmp_path):
    lo, hi = display_range([_snap()])
    assert lo < 2 - 3 * 0.5 and hi > 2 + 3 * 0.5 and lo > X[0] and hi < X[-1]
    letters = ["(a)", "(b)", "(c)", "(d)"]
    path = save_figure1([(_snap(10.0, s), None) for s in letters], tmp_path / "f.png")
    width, height = Image.open(path).size
    assert width > 2 * height
