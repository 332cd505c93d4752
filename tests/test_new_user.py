"""A new user's first hour, end to end through the command line (each step a fresh process, as
typed): quickstart (shortened), sample, evaluate, report, resume with the original command
line, a toy run's sample plot, and `fid` on two folders of their own images."""

from __future__ import annotations

import json

import numpy as np
from helpers import gankit
from PIL import Image


def _ok(*args) -> str:
    r = gankit(*args)
    assert r.returncode == 0, f"gankit {' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


def _folder(path, shape: str, n: int, seed: int):
    """``n`` 16x16 grey PNGs of a bright disc or bar at random places."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    yy, xx = np.mgrid[:16, :16]
    for i in range(n):
        cy, cx = rng.uniform(5, 11, 2)
        mask = (np.hypot(yy - cy, xx - cx) < 4) if shape == "disc" else \
            (abs(yy - cy) < 2) & (abs(xx - cx) < 6)
        Image.fromarray((mask * rng.integers(150, 256)).astype(np.uint8)).save(
            path / f"{i:03d}.png")
    return path


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

    discs = _folder(tmp_path / "mine" / "disc", "disc", 40, 0)
    _folder(tmp_path / "mine" / "bar", "bar", 40, 1)
    net = tmp_path / "net.safetensors"
    _ok("train-classifier", "--set", 'data.name="folder"', "--set",
        f"data.path={tmp_path / 'mine'}", "--out", net, "--epochs", "2", "--quiet")
    more_discs = _folder(tmp_path / "more-discs", "disc", 40, 2)
    out = tmp_path / "fid.json"
    _ok("fid", discs, more_discs, "--features-path", net, "--metrics", "fid,kid,pr",
        "--out", out, "--quiet")
    values = {r["metric"]: r["value"] for r in json.loads(out.read_text())["results"]}
    assert {"fid", "kid", "precision", "recall"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
