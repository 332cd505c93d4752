"""Data-parallel runs (torchrun's agent, Gloo on loopback) against 1-process runs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY

from gankit import checkpoint as ckpt


def gankit(*args, timeout=300):
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60"}
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _sets(*extra):
    return [a for s in (*TINY, *extra) for a in ("--set", s)]


def _weights(run_dir):
    tensors, state = ckpt.read_checkpoint(ckpt.resolve(run_dir)[0])
    return {k: v for k, v in tensors.items() if k[:2] in ("G/", "D/")}, state


def _assert_close(a_dir, b_dir, tol=1e-6):
    a, sa = _weights(a_dir)
    b, sb = _weights(b_dir)
    assert sa["step"] == sb["step"] and a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < tol, f"largest weight difference {worst}"


def test_two_processes_compute_the_one_process_update_paper_mnist(mnist_root, tmp_path):
    sets = ["--set", f"data.data_dir={str(mnist_root)!r}", "--set", "train.max_steps=4"]
    one = gankit("train", "--preset", "paper-mnist", "--out", tmp_path / "one", "--quiet", *sets)
    assert one.returncode == 0, one.stderr
    two = gankit("train", "--nproc", "2", "--preset", "paper-mnist", "--out", tmp_path / "two",
                 "--quiet", *sets)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("trained") == 1  # rank 0 speaks for the job
    _assert_close(tmp_path / "one", tmp_path / "two")


def test_resume_across_process_counts_alternating(tmp_path):
    sets = _sets("game.schedule=alternating", "game.d_steps=2")
    whole = gankit("train", "--preset", "quickstart", "--epochs", "2", "--out", tmp_path / "w",
                   "--quiet", *sets)
    assert whole.returncode == 0, whole.stderr
    for first, second, name in ((2, 1, "2to1"), (1, 2, "1to2")):
        nproc = ["--nproc", str(first)] if first > 1 else []
        r = gankit("train", *nproc, "--preset", "quickstart", "--epochs", "1",
                   "--out", tmp_path / name, "--quiet", *sets)
        assert r.returncode == 0, r.stderr
        nproc = ["--nproc", str(second)] if second > 1 else []
        r = gankit("train", *nproc, "--resume", tmp_path / name, "--epochs", "2", "--quiet")
        assert r.returncode == 0, r.stderr
        _assert_close(tmp_path / "w", tmp_path / name)


def test_global_batch_must_split_evenly(tmp_path):
    r = gankit("train", "--nproc", "2", "--preset", "quickstart", "--out", tmp_path / "r",
               "--quiet", *_sets("train.batch_size=51"))
    assert r.returncode == 2
    assert "must be divisible by the 2 processes" in r.stderr
    assert "gankit: error: the distributed job failed" in r.stderr


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def test_killing_one_rank_ends_the_job_with_an_error(tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "--nproc", "2",
                             "--preset", "quickstart", "--epochs", "0", "--out", str(out),
                             "--quiet", *_sets()], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while not (out / "metrics.jsonl").exists() and time.time() < deadline:
            time.sleep(0.5)
        assert (out / "metrics.jsonl").exists(), "training never started"
        workers = [p for p in _children(proc.pid)
                   if b"gankit" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        os.kill(workers[1], signal.SIGKILL)
        started = time.time()
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert time.time() - started < 120
    assert "gankit: error: the distributed job failed" in stderr and "-9" in stderr
    for c in ckpt.list_checkpoints(out / "checkpoints"):  # whatever was saved stays intact
        assert ckpt.verify(c) is None


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_single_process_context_is_inert():
    from gankit.distributed import DistContext

    ctx = DistContext()
    t = [torch.tensor(3.0)]
    ctx.sum_(t)
    assert t[0].item() == 3.0 and ctx.any(True, torch.device("cpu")) and ctx.wrap(None, None) \
        is None


def test_global_batchnorm_matches_batchnorm_forward_backward_and_buffers(tmp_path):
    """In a 1-process group the global statistics are the local ones: same numbers as BN."""
    import torch.distributed as dist

    from gankit.distributed import sync_batchnorm

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        torch.manual_seed(0)
        plain = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)).double()
        synced = sync_batchnorm(__import__("copy").deepcopy(plain), torch.device("cpu"))
        assert set(plain.state_dict()) == set(synced.state_dict())
        x = torch.randn(6, 2, 5, 5, dtype=torch.float64)
        for _ in range(2):
            ya, yb = plain(x), synced(x)
            assert torch.allclose(ya, yb, atol=1e-10)
            ga = torch.autograd.grad((ya ** 3).sum(), list(plain.parameters()))
            gb = torch.autograd.grad((yb ** 3).sum(), list(synced.parameters()))
            assert all(torch.allclose(a, b, atol=1e-9) for a, b in zip(ga, gb, strict=True))
        for k, v in plain.state_dict().items():
            assert torch.allclose(v.double(), synced.state_dict()[k].double(), atol=1e-12), k
    finally:
        dist.destroy_process_group()
