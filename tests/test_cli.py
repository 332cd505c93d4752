"""The command line, run as a user runs it: a subprocess, its exit code and its stderr."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import cli_sets, gankit


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = gankit("train", "--preset", "paper-digits", "--epochs", "1", "--out", out, "--quiet",
               *cli_sets())
    assert r.returncode == 0, r.stderr
    assert "trained 1 epochs" in r.stdout
    return out


def test_presets_lists_one_line_each():
    r = gankit("presets")
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    assert any(line.startswith("paper-mnist ") for line in lines)
    assert any(line.startswith("quickstart ") for line in lines)


@pytest.mark.parametrize("args, fragment", [
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--preset", "paper-digits", "--set", "game.d_steps=0"], "game.d_steps = 0"),
    (["train", "--preset", "paper-digits", "--set", "optim.lr=-0.1"], "optim.lr = -0.1"),
    (["train", "--preset", "paper-digits", "--set", "train.batch_size=0"], "train.batch_size"),
    (["train", "--preset", "paper-digits", "--epochs", "-1"], "train.epochs = -1"),
    (["train", "--preset", "paper-digits", "--set", "train.colour=1"], "unknown config key"),
    (["train", "--config", "/no/such.toml"], "does not exist"),
    (["sample", "/no/such/run", "--out", "x.png"], "neither a run directory"),
    (["train", "--preset", "paper-digits", "--set", "speed.step=nope"], "speed.step = 'nope'"),
])
def test_bad_input_one_line_exit_2(args, fragment, tmp_path):
    r = gankit(*args, "--quiet" if args[0] == "train" else "-n", *([] if args[0] == "train"
                                                                   else ["4"]), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gankit: error: ")
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_subprocesses_import_the_gankit_under_test(tmp_path):
    # From another cwd too: a relative PYTHONPATH once made these tests run a different checkout.
    import gankit

    r = subprocess.run([sys.executable, "-c", "import gankit; print(gankit.__file__)"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == gankit.__file__


def test_sample_writes_grid_and_npy(run_dir, tmp_path):
    r = gankit("sample", run_dir, "-n", "16", "--out", tmp_path / "g.png", "--npy",
               tmp_path / "s.npy")
    assert r.returncode == 0, r.stderr
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (16, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert (tmp_path / "g.png").stat().st_size > 100


def test_resume_refuses_changed_config_and_existing_out_is_kept(run_dir):
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    # The preset without the run's --set values asks for other models: each key is named.
    r = gankit("train", "--resume", run_dir, "--preset", "paper-digits", "--quiet")
    assert r.returncode == 2 and "model.g_hidden (saved [64, 64], given [" in r.stderr
    r = gankit("train", "--resume", run_dir, "--set", "optim.lr=0.5", "--quiet")
    assert r.returncode == 2 and "optim.lr (saved 0.1, given 0.5)" in r.stderr
    r = gankit("train", "--preset", "paper-digits", "--out", run_dir, "--quiet", *cli_sets())
    assert r.returncode == 2 and "already exists" in r.stderr
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_resume_extends_the_run(run_dir, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    r = gankit("train", "--resume", copy, "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "trained 2 epochs" in r.stdout
    events = [json.loads(line).get("event") for line in
              (copy / "metrics.jsonl").read_text().splitlines()]
    assert events.count("epoch_end") == 2 and "resumed" in events


def test_damaged_checkpoint_is_named(run_dir, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (ck,) = [p for p in (copy / "checkpoints").iterdir() if p.is_dir()]
    f = ck / "tensors.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    r = gankit("sample", ck, "-n", "4", "--out", tmp_path / "g.png")
    assert r.returncode == 2 and "is damaged" in r.stderr and str(ck) in r.stderr
    r = gankit("train", "--resume", copy, "--epochs", "2", "--quiet")
    assert r.returncode == 2 and "no intact checkpoint" in r.stderr


def test_divergence_exits_1(tmp_path):
    r = gankit("train", "--preset", "paper-digits", "--out", tmp_path / "r", "--epochs", "2",
               "--quiet", *cli_sets("optim.lr=1e30", "optim.momentum_start=0.9",
                                 "optim.momentum_end=0.9"))
    assert r.returncode == 1, r.stderr
    assert "training diverged at step" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [["train", "--data", "somewhere", "--quiet"],
                                  ["sample", "run", "--np", "x.npy"],
                                  ["bench", "--round", "1"],
                                  ["invert", "run", "x.npy", "--out", "z.npz", "--enc", "e"]])
def test_abbreviated_long_options_are_refused(args, tmp_path):
    # `--data` once ran as `--data-dir`; a prefix that is unique today need not stay so.
    r = gankit(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gankit: error: ")
    assert "unrecognized arguments: --" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_every_parser_refuses_abbreviations():
    import argparse

    from gankit.cli import build_parser

    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = [parser, *(p for s in subs for p in s.choices.values())]
    assert len(parsers) > 10 and not any(p.allow_abbrev for p in parsers)
