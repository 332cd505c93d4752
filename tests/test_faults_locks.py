"""One writer per run directory; a lock left by a killed process never blocks a resume."""

import json
import os
import signal
import subprocess
import sys

import pytest
from helpers import tiny_config

from gankit import api
from gankit.cli import main
from gankit.errors import GankitError
from gankit.io import checkpoint as ckpt
from gankit.io.run_dir import LOCK, RunLock


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path, capsys):
    run = tmp_path / "run"
    api.train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    assert not (run / LOCK).exists()  # released and removed after a normal end
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with RunLock(run):
        holder = json.loads((run / LOCK).read_text())
        assert holder["pid"] == os.getpid() and holder["host"]
        with pytest.raises(GankitError, match=f"in use by another gankit process \\(pid "
                                              f"{os.getpid()} on "):
            api.resume(run, epochs=2, progress=False)
        assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "in use by another gankit process" in err
        # A new run aimed at a directory being written is refused too.
        fresh = tmp_path / "fresh"
        with RunLock(fresh), pytest.raises(GankitError, match="in use"):
            api.train(config=tiny_config("train.epochs=1"), out=fresh, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_the_lock_of_a_killed_process_is_stale_and_taken_over(tmp_path):
    run = tmp_path / "run"
    api.train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    code = ("import sys, time; from gankit.io.run_dir import RunLock; "
            "RunLock(sys.argv[1]).__enter__(); print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(GankitError, match=f"pid {holder.pid} "):
            api.resume(run, epochs=2, progress=False)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert json.loads((run / LOCK).read_text())["pid"] == holder.pid  # left behind
    result = api.resume(run, epochs=2, progress=False)  # ... and recognised as stale
    assert result.epoch == 2 and not (run / LOCK).exists()


def test_a_directory_holding_only_a_stale_lock_counts_as_empty(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text('{"pid": 999999, "host": "elsewhere", "started": "then"}')
    result = api.train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    assert result.step > 0 and ckpt.resolve(run)[0].name == "epoch-0001"


def test_an_unwritable_place_for_the_lock_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(GankitError, match="cannot create run directory"):
        api.train(config=tiny_config("train.epochs=1"), out=blocker / "run", progress=False)
