"""A full disk or a read-only output: one clear error, the previous checkpoint intact."""

import errno
import os
import subprocess
import sys

import pytest
import torch
from helpers import TINY, tiny_config

from gankit import api
from gankit.errors import StorageError
from gankit.io import checkpoint as ckpt
from gankit.io import metrics_log, run_dir


def _fail_on_call(n, err, real):
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(err, os.strerror(err), str(args[-1]) if args else None)
        return real(*args, **kwargs)

    return failing


def test_disk_full_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setattr(ckpt, "save_file", _fail_on_call(2, errno.ENOSPC, ckpt.save_file))
    with pytest.raises(StorageError, match="No space left on device; the previous checkpoint "
                                           "epoch-0001 is intact") as info:
        api.train(config=tiny_config("train.epochs=3"), out=run, progress=False)
    assert info.value.exit_code == 1
    root = run / "checkpoints"
    assert [p.name for p in root.iterdir() if p.name != "latest"] == ["epoch-0001"]
    assert ckpt.resolve(run) == (root / "epoch-0001", [])
    assert not (run / run_dir.LOCK).exists()
    monkeypatch.undo()  # space freed: the run resumes and finishes
    assert api.resume(run, progress=False).epoch == 3


def test_read_only_output_for_the_metrics_log(tmp_path, monkeypatch):
    real = metrics_log.MetricsLog.write
    calls = {"n": 0}

    def write(self, record):
        calls["n"] += 1
        if calls["n"] > 8:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self.path))
        return real(self, record)

    monkeypatch.setattr(metrics_log.MetricsLog, "write", write)
    with pytest.raises(StorageError, match=r"cannot write .*metrics.jsonl: Read-only file "
                                           r"system; the last checkpoint .*epoch-0001 is intact"):
        api.train(config=tiny_config("train.epochs=3"), out=tmp_path / "r", progress=False)
    assert ckpt.resolve(tmp_path / "r")[0].name == "epoch-0001"


def test_a_real_file_size_limit_gives_one_line_and_no_half_checkpoint(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), as a full disk would."""
    run = tmp_path / "run"
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000)); "
            "from gankit.cli import main; sys.exit(main(sys.argv[1:]))")
    sets = [a for s in TINY for a in ("--set", s)]
    r = subprocess.run([sys.executable, "-c", code, "train", "--preset", "paper-digits",
                        "--epochs", "2", "--quiet", "--out", str(run), *sets],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("gankit: error: cannot write checkpoint") and \
        r.stderr.count("\n") == 1 and "File too large" in r.stderr, r.stderr
    assert [p.name for p in (run / "checkpoints").iterdir()] == []  # no half checkpoint
    assert (run / "config.toml").exists() and not (run / run_dir.LOCK).exists()


def test_storage_errors_leave_loaded_weights_alone(tmp_path, monkeypatch):
    run = tmp_path / "run"
    api.train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    before, _ = ckpt.read_checkpoint(ckpt.resolve(run)[0])
    monkeypatch.setattr(ckpt, "save_file", _fail_on_call(1, errno.EDQUOT, ckpt.save_file))
    with pytest.raises(StorageError, match="Disk quota exceeded"):
        api.resume(run, epochs=2, progress=False)
    after, _ = ckpt.read_checkpoint(ckpt.resolve(run)[0])
    assert all(torch.equal(before[k], after[k]) for k in before)
