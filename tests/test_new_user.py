"""A new user's first hour, end to end through the command line (each step a fresh process, as
typed): quickstart (shortened), sample, evaluate, report, resume with the original command
line, a toy run's sample plot, and `fid` on two folders of their own images."""

from __future__ import annotations

import json

import numpy as np
from helpers import gankit
from PIL import Image
from test_fid_folders import draw, write


def _ok(*args) -> str:
    r = gankit(*args)
    assert r.returncode == 0, f"gankit {' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


def test_the_first_hour_through_the_command_line(tmp_path):
    run = tmp_path / "quick"
    train = ["train", "--preset", "quickstart", "--epochs", "2", "--out", run, "--quiet",
             "--set", "speed.threads=1"]
    said = _ok(*train).strip().splitlines()
    assert said[-4].split() == ["samples:", str(run / "samples" / "final.png")]
    evaluate = said[-1].split(None, 1)[1].split()  # the command the run says evaluates it
    assert evaluate[:3] == ["gankit", "evaluate", str(run)]

    _ok("sample", run, "-n", "20", "--out", tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as grid:
        assert min(grid.size) > 8 * 4  # a grid of 8x8 digits, not one image

    _ok(*evaluate[1:], "--samples", "200", "--quiet")
    scores = json.loads((run / "eval" / "epoch-0002.json").read_text())
    assert [r["metric"] for r in scores["results"]] == ["parzen"]
    assert np.isfinite(scores["results"][0]["value"])

    _ok("report", run)
    html = (run / "report.html").read_text()
    assert "<img" in html and "epoch 2" in html

    # the habit of most trainers: the same command again, with --resume and more epochs
    said = _ok(*[a if a != "2" else "3" for a in train], "--resume", run)
    assert "trained 3 epochs" in said and (run / "checkpoints" / "epoch-0003").is_dir()

    toy = tmp_path / "toy"
    _ok("train", "--preset", "toy-ring8", "--set", "train.max_steps=20", "--out", toy,
        "--quiet")
    _ok("sample", toy, "-n", "300", "--out", tmp_path / "points.png")
    with Image.open(tmp_path / "points.png") as plot:
        assert plot.size[0] > 200  # a scatter plot, drawn, not refused

    discs = write(tmp_path / "mine" / "circle", draw("circle", 40, 0))
    write(tmp_path / "mine" / "square", draw("square", 40, 1))
    net = tmp_path / "net.safetensors"
    _ok("train-classifier", "--set", 'data.name="folder"', "--set",
        f"data.path={tmp_path / 'mine'}", "--out", net, "--epochs", "2", "--quiet")
    more_discs = write(tmp_path / "more-circles", draw("circle", 40, 2))
    out = tmp_path / "fid.json"
    _ok("fid", discs, more_discs, "--features-path", net, "--metrics", "fid,kid,pr",
        "--out", out, "--quiet")
    values = {r["metric"]: r["value"] for r in json.loads(out.read_text())["results"]}
    assert {"fid", "kid", "precision", "recall"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
