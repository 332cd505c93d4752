"""The data a report is built from, read from a small run directory written by hand here."""

import json
import re

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.config import Config
from gankit.errors import GankitError
from gankit.figures.grid import save_grid
from gankit.report import load_run, load_runs, watch, write_report
from gankit.report.data import config_differences, final_metrics, format_seconds
from gankit.report.html import _evenly, render

TRAINING = [  # step, epoch, d_loss, g_loss, d_real, d_fake, lr, momentum, samples/s, time
    (10, 1, 0.69, 0.70, 0.50, 0.49, 0.1, 0.5, 1000.0, 1.0),
    (20, 1, 0.60, 0.90, 0.60, 0.40, 0.099, 0.5, 2000.0, 2.0),
    (30, 2, 0.55, 1.00, 0.65, 0.38, 0.098, 0.51, 3000.0, 4.0),
    (40, 2, 0.50, 1.10, 0.70, 0.35, 0.097, 0.51, 4000.0, 8.0),
]
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7359a930000000049454e44ae426082")
KEYS = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "lr", "momentum",
        "samples_per_s", "time")


def make_run(path, seed=0, lr=0.1):
    """A run directory as the trainer and its callbacks write one (no training needed)."""
    path.mkdir(parents=True)
    cfg = Config()
    cfg.train.seed, cfg.optim.lr, cfg.train.epochs = seed, lr, 2
    (path / "config.toml").write_text(cfg.to_toml())
    (path / "run.json").write_text(json.dumps({
        "seed": seed, "device": "cpu", "started": "2026-01-01T00:00:00+0000",
        "versions": {"gankit": "0.1.0", "torch": "2.13.0", "platform": "Linux"},
        "command": ["gankit", "train"]}))
    lines = [dict(zip(KEYS, row, strict=True)) for row in TRAINING[:2]]
    lines += [{"event": "epoch_end", "step": 20, "epoch": 1, "time": 2.0},
              {"step": 20, "epoch": 1, "parzen": 150.0, "modes": {"covered": 7, "kl": 0.4},
               "note": "text is not plotted"},
              {"event": "stopped", "step": 25, "signal": 2},
              {"event": "resumed", "step": 25, "epoch": 1, "checkpoint": "epoch-0001"},
              *[dict(zip(KEYS, row, strict=True)) for row in TRAINING[2:]],
              {"step": 35, "epoch": 2, "parzen": 190.0},
              {"event": "collapse_warning", "step": 38, "epoch": 2, "modes_covered": 2},
              {"event": "epoch_end", "step": 40, "epoch": 2, "time": 8.0}]
    text = "".join(json.dumps(r) + "\n" for r in lines) + '{"step": 41, "d_lo'  # cut short
    (path / "metrics.jsonl").write_text(text)
    for epoch in (2, 1):
        save_grid(torch.full((4, 1, 8, 8), epoch / 2), path / "samples" / f"epoch-{epoch:04d}.png")
    save_grid(torch.rand(4, 1, 8, 8), path / "figures" / "figure-2.png")
    save_grid(torch.rand(4, 1, 8, 8), path / "checkpoints" / "not-a-figure.png")
    (path / "eval").mkdir()
    (path / "eval" / "parzen.json").write_text(json.dumps(
        {"parzen": {"mean": 190.0, "sem": 2.0}, "real_data": {"mean": 240.0}}))
    return path


@pytest.fixture
def run_dir(tmp_path):
    return make_run(tmp_path / "run-a")


@pytest.fixture
def quick_plots(monkeypatch):
    """Tests of files and flags, not of the curves: skip matplotlib's drawing (seconds a page)."""
    monkeypatch.setattr("gankit.report.plots.curves_png",
                        lambda runs, panels, over_time=True: PIXEL)


def test_training_curves_match_the_log(run_dir):
    run = load_run(run_dir)
    s = run.series("d_loss")
    assert s.step.tolist() == [10, 20, 30, 40]
    assert s.value.tolist() == [0.69, 0.60, 0.55, 0.50]
    assert s.time.tolist() == [1.0, 2.0, 4.0, 8.0]
    assert run.series("momentum").value.tolist() == [0.5, 0.5, 0.51, 0.51]
    assert len(run.training) == 4  # the line cut short by a crash is skipped


def test_periodic_metrics_are_found_generically_and_timed_by_interpolation(run_dir):
    run = load_run(run_dir)
    assert run.metric_keys == ["parzen", "modes.covered", "modes.kl"]
    s = run.series("parzen")
    assert s.step.tolist() == [20, 35] and s.value.tolist() == [150.0, 190.0]
    # the training lines give (20, 2.0) and, around step 35, (30, 4.0) and (40, 8.0)
    assert s.time.tolist() == pytest.approx([2.0, 6.0])
    assert run.series("modes.covered").value.tolist() == [7.0]


def test_events_warnings_and_status(run_dir):
    run = load_run(run_dir)
    names = [(e.name, e.step, e.is_warning) for e in run.events if e.name != "epoch_end"]
    assert names == [("stopped", 25, False), ("resumed", 25, False),
                     ("collapse_warning", 38, True)]
    assert run.resumed_steps == [25]
    assert run.status == "finished"  # 2 of 2 epochs ended after the resume


def test_summary_numbers(run_dir):
    s = load_run(run_dir).summary()
    assert s["steps"] == 40 and s["epochs completed"] == 2 and s["seed"] == 0
    assert s["training time"] == "0m 08s"
    assert s["throughput (median samples/s)"] == "2,500"  # median of 1000, 2000, 3000, 4000
    assert "torch 2.13.0" in s["versions"] and s["device"] == "cpu"
    assert format_seconds(3725) == "1h 02m 05s" and format_seconds(float("nan")) == "?"


def test_files_samples_figures_and_evaluations(run_dir):
    run = load_run(run_dir)
    assert [e for e, _ in run.samples] == [1, 2]
    assert [p.relative_to(run_dir).as_posix() for p in run.figures] == ["figures/figure-2.png"]
    assert run.evaluations == {"eval/parzen.json": {"parzen.mean": 190.0, "parzen.sem": 2.0,
                                                    "real_data.mean": 240.0}}


def test_comparison_tables(tmp_path):
    runs = load_runs([make_run(tmp_path / "a" / "run", lr=0.1),
                      make_run(tmp_path / "b" / "run", seed=3, lr=0.05)])
    assert [r.name for r in runs] == ["a/run", "b/run"]  # same folder names told apart
    diff = config_differences(runs)
    assert diff == {"optim.lr": [0.1, 0.05], "train.seed": [0, 3]}
    table = final_metrics(runs)
    assert table["parzen"] == {"a/run": (190.0, 35), "b/run": (190.0, 35)}


def test_page_holds_every_section_curve_and_the_slider(run_dir):
    page = render(load_runs([run_dir]))
    for section in ("summary", "events", "curves", "samples", "metrics", "figures",
                    "evaluations", "config"):
        assert f'<section id="{section}">' in page
    curves = re.findall(r'<div class="curves" id="curve-([\w.-]+)">', page)
    assert curves == ["losses", "discriminator", "optimiser", "throughput", "metric-parzen",
                      "metric-modes.covered", "metric-modes.kl"]
    assert "data-epochs='[1, 2]'" in page and 'id="grid-slider"' in page
    assert page.count('class="grid"') == 2
    assert "225 ± 2" in page  # the paper's Table 1 beside the run's Parzen estimate
    assert 'class="warning"' in page and "collapse_warning" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_evenly_keeps_first_and_last():
    assert _evenly(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert _evenly([3, 4], 5) == [3, 4]


def test_write_report_replaces_its_own_page_but_no_other_file(run_dir, tmp_path, quick_plots):
    out = write_report([run_dir])
    assert out == run_dir / "report.html" and out.stat().st_size > 1000
    assert write_report([run_dir]) == out  # an earlier report is replaced
    precious = tmp_path / "notes.html"
    precious.write_text("<p>mine</p>")
    with pytest.raises(GankitError, match="not a gankit report"):
        write_report([run_dir], precious)
    assert precious.read_text() == "<p>mine</p>"
    with pytest.raises(GankitError, match="not a gankit run directory"):
        load_run(tmp_path)


def test_cli_report(run_dir, tmp_path, capsys, quick_plots):
    out = tmp_path / "cmp.html"
    assert main(["report", str(run_dir), str(make_run(tmp_path / "b")), "--out", str(out)]) == 0
    assert out.exists() and "2 runs compared" in out.read_text()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a gankit run directory" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", str(tmp_path / "x.png")]) == 2


def test_watch_rewrites_on_change_and_ends_without_reload(run_dir, quick_plots):
    pages = []

    def on_write(path):
        pages.append(path.read_text())
        if len(pages) == 1:  # the run makes progress after the first page
            with (run_dir / "metrics.jsonl").open("a") as f:
                f.write("\n" + json.dumps({"step": 50, "epoch": 3, "parzen": 200.0}) + "\n")

    out = watch([run_dir], run_dir / "live.html", interval=0.01, rounds=4, on_write=on_write)
    assert len(pages) == 2  # four checks, two saw a change (the page itself is not one)
    assert all('http-equiv="refresh"' in p for p in pages)
    assert "200 (step 50)" in pages[1] and "200 (step 50)" not in pages[0]
    assert 'http-equiv="refresh"' not in out.read_text()


def test_a_run_without_a_log_yet_gives_a_page(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.toml").write_text(Config().to_toml())
    run = load_run(fresh)
    assert run.training == [] and run.summary()["steps"] == 0
    page = render([run])
    assert "No training lines in the log yet" in page and "No sample grids yet" in page


def test_series_of_an_unknown_key_is_empty(run_dir):
    s = load_run(run_dir).series("fid")
    assert len(s) == 0 and isinstance(s.value, np.ndarray)
