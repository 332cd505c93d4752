"""One self-contained HTML page from the runs' data: images inlined as data URIs, a few lines
of inline script for the sample-grid slider, no network access, no external files.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from gankit.report import plots
from gankit.report.data import (
    RunData,
    config_differences,
    final_metrics,
    step_of_epoch,
)

GENERATOR = "gankit report"  # the page's <meta name="generator">, which marks a file as ours
MAX_GRIDS = 40  # sample grids embedded per run for the slider, evenly spaced over the epochs
STRIP = 10  # thumbnails in the strip per run
THUMB_WIDTH = 120
# The paper's Table 1: Parzen-window log-likelihood of MNIST test images, nats (mean +- s.e.).
PAPER_TABLE_1 = [("DBN", "138 ± 2"), ("Stacked CAE", "121 ± 1.6"), ("Deep GSN", "214 ± 1.1"),
                 ("Adversarial nets", "225 ± 2")]

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1250px; padding: 1em 2em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.warning td { background: #fde8e8; }
.curves img, .figure img { max-width: 100%; height: auto; display: block; }
.strip { display: flex; gap: 4px; overflow-x: auto; margin-bottom: .3em; align-items: end; }
.strip figure { margin: 0; text-align: center; font-size: .75em; cursor: pointer; }
.columns { display: flex; gap: 1.5em; flex-wrap: wrap; }
.grid-column figure, .grid-column { margin: 0; }
.grid-column img { image-rendering: pixelated; width: 420px; max-width: 100%; }
.slider { display: flex; align-items: center; gap: 1em; margin: .6em 0; }
.slider input { width: 420px; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: .85em; }
.muted { color: #777; }
"""

SCRIPT = """
(function () {
  const slider = document.getElementById('grid-slider');
  if (!slider) return;
  const epochs = JSON.parse(slider.dataset.epochs);
  const label = document.getElementById('grid-epoch');
  function show(i) {
    const epoch = epochs[i];
    label.textContent = 'epoch ' + epoch;
    document.querySelectorAll('.grid-column').forEach(function (column) {
      let best = null;
      column.querySelectorAll('img.grid').forEach(function (img) {
        const e = Number(img.dataset.epoch);
        if (e <= epoch && (best === null || e > Number(best.dataset.epoch))) best = img;
      });
      column.querySelectorAll('img.grid').forEach(function (img) { img.hidden = img !== best; });
      const note = column.querySelector('.grid-note');
      note.textContent = best ? 'epoch ' + best.dataset.epoch : 'no grid yet';
    });
  }
  slider.addEventListener('input', function () { show(Number(slider.value)); });
  document.querySelectorAll('.strip figure').forEach(function (fig) {
    fig.addEventListener('click', function () {
      slider.value = epochs.indexOf(Number(fig.dataset.epoch));
      show(Number(slider.value));
    });
  });
  show(Number(slider.value));
})();
"""


def render(runs: Sequence[RunData], refresh: int | None = None) -> str:
    """The whole page. ``refresh`` (seconds) makes the browser reload it, for --watch."""
    several = len(runs) > 1
    title = (f"gankit report: {runs[0].name}" if not several
             else f"gankit report: {len(runs)} runs compared")
    sections = [("summary", "Run", _summary(runs)),
                ("events", "Warnings and events", _events(runs)),
                ("samples", "Samples from the fixed noise batch", _samples(runs)),
                ("curves", "Curves", _curves(runs)),
                ("metrics", "Metrics", _metrics(runs)),
                ("figures", "Figures", _figures(runs)),
                ("evaluations", "Evaluation results", _evaluations(runs)),
                ("config", "Configuration", _config(runs))]
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    nav = " ".join(f'<a href="#{key}">{name}</a>' for key, name, _ in sections)
    body = "\n".join(f'<section id="{key}"><h2>{name}</h2>\n{content}</section>'
                     for key, name, content in sections)
    made = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="{GENERATOR}">{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body><h1>{_e(title)}</h1>
<p class="muted">Made {made} from {', '.join(_e(str(r.path)) for r in runs)}.</p>
<nav>{nav}</nav>
{body}
<script>{SCRIPT}</script>
</body></html>
"""


# ---------------------------------------------------------------------- sections
def _summary(runs: Sequence[RunData]) -> str:
    summaries = [r.summary() for r in runs]
    rows = [(key, [s[key] for s in summaries]) for key in summaries[0]]
    return _table(["", *[r.name for r in runs]], [[k, *vals] for k, vals in rows])


def _events(runs: Sequence[RunData]) -> str:
    rows, classes = [], []
    for run in runs:
        for e in run.events:
            if e.name == "epoch_end":
                continue
            details = ", ".join(f"{k}={v}" for k, v in e.details.items())
            rows.append([run.name, e.step, e.epoch, e.name, details])
            classes.append("warning" if e.is_warning else "")
    warnings = sum(c == "warning" for c in classes)
    head = (f"<p><strong>{warnings} warning{'s' if warnings != 1 else ''}</strong> "
            "(divergence, collapse or other monitor warnings, in red); resumes and stops are "
            "listed as notes and drawn as dotted lines on the curves.</p>")
    if not rows:
        return head + "<p>No events: the log holds no warning, resume or stop.</p>"
    return head + _table(["run", "step", "epoch", "event", "details"], rows, classes)


def _curves(runs: Sequence[RunData]) -> str:
    parts = []
    groups = [(name, panels, name != "optimiser")  # schedules: over steps only
              for name, panels in plots.TRAINING_PANELS.items()]
    keys = list(dict.fromkeys(k for r in runs for k in r.metric_keys))
    groups += [(f"metric-{k}", [plots.metric_panel(k)], True) for k in keys]
    for name, panels, over_time in groups:
        png = plots.curves_png(runs, panels, over_time)
        if png is not None:
            alt = ", ".join(p.title for p in panels)
            parts.append(f'<div class="curves" id="curve-{_e(name)}">{_img(png, alt)}</div>')
    shares = plots.class_shares_png(runs)
    if shares is not None:
        parts.append(f'<div class="curves" id="curve-class-shares">'
                     f'{_img(shares, "class shares of the collapse monitor")}</div>')
    if not any(r.training for r in runs):
        parts.insert(0, "<p>No training lines in the log yet.</p>")
    if not keys:
        parts.append('<p class="muted">No periodic metrics in the log yet (evaluation '
                     'callbacks add lines such as Parzen or FID).</p>')
    return "\n".join(parts)


def _samples(runs: Sequence[RunData]) -> str:
    all_epochs = sorted({e for r in runs for e, _ in r.samples})
    if not all_epochs:
        return "<p>No sample grids yet (one is written every train.sample_every epochs).</p>"
    chosen = _evenly(all_epochs, MAX_GRIDS)
    strip_rows, columns = [], []
    for run in runs:
        by_epoch = dict(run.samples)
        shown = sorted({max((e for e in by_epoch if e <= c), default=None) for c in chosen}
                       - {None})
        thumbs = "".join(
            f'<figure data-epoch="{e}">{_img(_thumbnail(by_epoch[e]), f"epoch {e}")}'
            f"<figcaption>{e}</figcaption></figure>" for e in _evenly(shown, STRIP))
        label = f"<p><strong>{_e(run.name)}</strong></p>" if len(runs) > 1 else ""
        strip_rows.append(f'{label}<div class="strip">{thumbs}</div>' + _raw_strip(run, chosen))
        grids = "".join(
            f'<img class="grid" data-epoch="{e}" alt="{_e(run.name)} epoch {e}" '
            f'title="epoch {e}, step {step_of_epoch(run, e)}" '
            f'src="{_data_uri(by_epoch[e].read_bytes())}">' for e in shown)
        columns.append(f'<div class="grid-column"><p><strong>{_e(run.name)}</strong> '
                       f'<span class="grid-note"></span></p>{grids}</div>')
    note = (f'<p class="muted">{len(chosen)} of {len(all_epochs)} saved epochs embedded, evenly '
            "spaced.</p>" if len(chosen) < len(all_epochs) else "")
    slider = (f'<div class="slider"><input type="range" id="grid-slider" min="0" '
              f'max="{len(chosen) - 1}" value="{len(chosen) - 1}" '
              f"data-epochs='{json.dumps(chosen)}' aria-label=\"epoch\">"
              f'<span id="grid-epoch">epoch {chosen[-1]}</span></div>')
    ema = "".join(f"<p>{_e(r.name)}: the grids are samples of the {_e(r.sampled_generator)}"
                  + ("; the second strip is the raw G on the same noise" if r.raw_samples else "")
                  + ".</p>" for r in runs if r.sampled_generator != "G")
    return ("<p>The same 100 noise vectors drawn through G at each saved epoch. Click a "
            "thumbnail or move the slider.</p>" + ema + "".join(strip_rows) + slider + note
            + f'<div class="columns">{"".join(columns)}</div>')


def _raw_strip(run: RunData, chosen: list[int]) -> str:
    """Thumbnails of the raw G beside its moving average's (train.ema); "" without them."""
    by_epoch = dict(run.raw_samples)
    shown = sorted({max((e for e in by_epoch if e <= c), default=None) for c in chosen} - {None})
    thumbs = "".join(
        f'<figure data-epoch="{e}">{_img(_thumbnail(by_epoch[e]), f"raw G, epoch {e}")}'
        f"<figcaption>{e}</figcaption></figure>" for e in _evenly(shown, STRIP))
    return f'<p class="muted">raw G</p><div class="strip">{thumbs}</div>' if thumbs else ""


def _metrics(runs: Sequence[RunData]) -> str:
    table = final_metrics(runs)
    mnist = any(r.config.get("data", {}).get("name") == "mnist" for r in runs)
    parts = []
    if table:
        head = ["metric (last value, at step)", *[r.name for r in runs]]
        if mnist:
            head.append("paper, adversarial nets")
        rows = []
        for key, per_run in table.items():
            row = [key, *[_fmt_metric(per_run.get(r.name)) for r in runs]]
            if mnist:
                row.append("225 ± 2 (Parzen, nats)" if "parzen" in key.lower() else "")
            rows.append(row)
        parts.append(_table(head, rows))
    else:
        parts.append("<p>No periodic metrics logged.</p>")
    parts.append("<p>The paper's Table 1, Parzen-window log-likelihood of the MNIST test set "
                 "(nats, mean ± standard error); the real-data calibration, where an evaluation "
                 "wrote one, is in the evaluation results below.</p>")
    parts.append(_table(["model (paper)", "MNIST"], [list(r) for r in PAPER_TABLE_1]))
    return "\n".join(parts)


def _figures(runs: Sequence[RunData]) -> str:
    parts = []
    for run in runs:
        for path in run.figures:
            rel = path.relative_to(run.path).as_posix()
            caption = f"{run.name}: {rel}" if len(runs) > 1 else rel
            parts.append(f'<figure class="figure">{_img(path.read_bytes(), caption)}'
                         f"<figcaption>{_e(caption)}</figcaption></figure>")
    if not parts:
        return ("<p>No figures in the run directory (evaluation and monitors write the paper's "
                "Figures 1-3 and mode plots there).</p>")
    return "\n".join(parts)


def _evaluations(runs: Sequence[RunData]) -> str:
    files = list(dict.fromkeys(f for r in runs for f in r.evaluations))
    if not files:
        return "<p>No evaluation results (JSON files) in the run directory.</p>"
    parts = []
    for name in files:
        keys = list(dict.fromkeys(k for r in runs for k in r.evaluations.get(name, {})))
        rows = [[k, *[_fmt(r.evaluations.get(name, {}).get(k, "")) for r in runs]]
                for k in keys]
        parts.append(f"<h3>{_e(name)}</h3>" + _table(["", *[r.name for r in runs]], rows))
    return "\n".join(parts)


def _config(runs: Sequence[RunData]) -> str:
    parts = []
    if len(runs) > 1:
        diff = config_differences(runs)
        if diff:
            parts.append("<p>Keys whose values differ:</p>" + _table(
                ["key", *[r.name for r in runs]], [[k, *v] for k, v in diff.items()]))
        else:
            parts.append("<p>The runs share one configuration.</p>")
    for run in runs:
        summary = f"config.toml of {_e(run.name)}"
        parts.append(f"<details{' open' if len(runs) == 1 else ''}><summary>{summary}</summary>"
                     f"<pre>{_e(run.config_text)}</pre></details>")
    return "\n".join(parts)


# ---------------------------------------------------------------------- helpers
def _table(head: Sequence[Any], rows: Sequence[Sequence[Any]],
           classes: Sequence[str] | None = None) -> str:
    th = "".join(f"<th>{_e(_fmt(h))}</th>" for h in head)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(_fmt(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _fmt_metric(cell: tuple[float, int] | None) -> str:
    return "" if cell is None else f"{cell[0]:.4g} (step {cell[1]})"


def _evenly(items: Sequence[int], n: int) -> list[int]:
    """At most ``n`` items spread evenly from first to last, both kept."""
    if len(items) <= n:
        return list(items)
    picks = {round(i * (len(items) - 1) / (n - 1)) for i in range(n)}
    return [items[i] for i in sorted(picks)]


def _thumbnail(path: Path) -> bytes:
    with Image.open(path) as img:
        img = img.convert("L") if img.mode == "L" else img.convert("RGB")
        height = max(1, round(img.height * THUMB_WIDTH / img.width))
        small = img.resize((THUMB_WIDTH, height), Image.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="{_data_uri(png)}">'


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
