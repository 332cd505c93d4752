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

from gankit import api
from gankit.config import build_config
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics


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
    whole = gankit("train", "--preset", "paper-digits", "--epochs", "2", "--out", tmp_path / "w",
                   "--quiet", *sets)
    assert whole.returncode == 0, whole.stderr
    for first, second, name in ((2, 1, "2to1"), (1, 2, "1to2")):
        nproc = ["--nproc", str(first)] if first > 1 else []
        r = gankit("train", *nproc, "--preset", "paper-digits", "--epochs", "1",
                   "--out", tmp_path / name, "--quiet", *sets)
        assert r.returncode == 0, r.stderr
        nproc = ["--nproc", str(second)] if second > 1 else []
        r = gankit("train", *nproc, "--resume", tmp_path / name, "--epochs", "2", "--quiet")
        assert r.returncode == 0, r.stderr
        _assert_close(tmp_path / "w", tmp_path / name)


def test_global_batch_must_split_evenly(tmp_path):
    r = gankit("train", "--nproc", "2", "--preset", "paper-digits", "--out", tmp_path / "r",
               "--quiet", *_sets("train.batch_size=51"))
    assert r.returncode == 2
    assert "must be divisible by the 2 processes" in r.stderr
    # Refused before any worker starts: one line, no torchrun banner, no run directory.
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gankit: error: ")
    assert not (tmp_path / "r").exists()


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
                             "--preset", "paper-digits", "--epochs", "0", "--out", str(out),
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


TINY_DCGAN_DIST = ['data.name="digits"', "data.image_size=16", "model.g_width=8",
                   "model.d_width=8", "model.noise_dim=16", "train.batch_size=50",
                   "train.max_steps=3", "train.sample_every=0", "report.html=false",
                   "monitor.collapse_every=3", "monitor.collapse_samples=301"]


def _dcgan_run(out, nproc, *extra):
    """G's and D's tensors and the collapse monitor's diversity after a short tiny-DCGAN run
    (3 steps, one measurement at the end); 1 process runs in this interpreter
    (a start-up of torch saved), N through ``gankit train --nproc N``."""
    if nproc == 1:
        api.train(config=build_config("dcgan-mnist", sets=[*TINY_DCGAN_DIST, *extra]), out=out,
                  progress=False)
    else:
        sets = [a for s in (*TINY_DCGAN_DIST, *extra) for a in ("--set", s)]
        r = gankit("train", "--nproc", str(nproc), "--preset", "dcgan-mnist", "--out", out,
                   "--quiet", *sets)
        assert r.returncode == 0, r.stderr
    diversity = [r["diversity"] for r in read_metrics(out) if r.get("monitor") == "collapse"]
    assert len(diversity) == 1  # the collapse monitor measured once, on rank 0
    return _weights(out)[0], diversity[0]


def test_two_processes_match_one_with_batch_norm_only_when_synchronised(tmp_path):
    """DCGAN (batch norm in G and D): sync_batchnorm makes 2 processes compute the 1-process
    update, running statistics included; per-process batch norm does not (the test can fail)."""
    (one, div_one), (synced, div_synced) = (_dcgan_run(tmp_path / "one", 1),
                                            _dcgan_run(tmp_path / "sync", 2,
                                                       "train.sync_batchnorm=true"))
    local, _ = _dcgan_run(tmp_path / "local", 2)
    assert one.keys() == synced.keys()
    buffers = [k for k in one if "running_" in k]
    assert any(k.startswith("G/") for k in buffers) and any(k.startswith("D/") for k in buffers)
    for k in one:
        assert torch.allclose(one[k].double(), synced[k].double(), rtol=0, atol=1e-5), k
    # The collapse monitor's 301 samples, generated in two shares, are the 1-process ones.
    assert div_synced == pytest.approx(div_one, rel=1e-5)
    worst = max((one[k].double() - local[k].double()).abs().max().item() for k in one)
    assert worst > 1e-3, f"per-process batch norm matched the 1-process run ({worst})"


def _digits_one_and_two_processes(tmp_path, sets):
    """paper-digits with ``sets`` in this interpreter and under --nproc 2: the same weights."""
    api.train(config=build_config("paper-digits", sets=[*TINY, *sets]), out=tmp_path / "one",
              progress=False)
    two = gankit("train", "--nproc", "2", "--preset", "paper-digits", "--out", tmp_path / "two",
                 "--quiet", *_sets(*sets))
    assert two.returncode == 0, two.stderr
    _assert_close(tmp_path / "one", tmp_path / "two", tol=1e-5)


def test_two_processes_match_one_conditional_with_periodic_evaluation(tmp_path):
    """AC-GAN on the digits for one epoch: labels are sharded like the images, the fake classes
    and dropout masks come from the shared stream, D's class head goes through its DDP wrapper;
    the epoch's evaluation generates its 301 samples in two shares (one padded for all_gather)
    and scores the 1-process samples."""
    sets = ["condition.classes=10", "condition.aux_weight=0.5", "train.epochs=1",
            "train.sample_every=0", "eval.every=1", "eval.metrics='parzen'", "eval.samples=301"]
    _digits_one_and_two_processes(tmp_path, sets)
    a, b = ([r for r in read_metrics(tmp_path / d) if "eval_parzen" in r] for d in ("one", "two"))
    assert len(a) == len(b) == 1 and a[0]["eval_samples"] == b[0]["eval_samples"] == 301
    assert b[0]["eval_parzen"] == pytest.approx(a[0]["eval_parzen"], rel=1e-5, abs=1e-6)


PENALTIES = ("reg.r1=1.0", "reg.r2=0.5", "reg.gp=1.0")


def test_two_processes_match_one_with_gradient_penalties(tmp_path):
    """R1, R2 and WGAN-GP differentiate D twice; DDP still averages the whole D gradient. A
    conditional MLP with lazy R1 and R2 and two D steps, and a DCGAN whose batch norm is
    synchronised (the penalties' graph runs through the global batch statistics)."""
    sets = ["condition.classes=10", "game.schedule='alternating'", "game.d_steps=2",
            "reg.every=2", "train.max_steps=12", "train.sample_every=0", *PENALTIES[:2]]
    _digits_one_and_two_processes(tmp_path, sets)

    one, _ = _dcgan_run(tmp_path / "dc1", 1, *PENALTIES)
    synced, _ = _dcgan_run(tmp_path / "dc2", 2, "train.sync_batchnorm=true", *PENALTIES)
    plain, _ = _dcgan_run(tmp_path / "dc0", 1)
    for k in one:
        assert torch.allclose(one[k].double(), synced[k].double(), rtol=0, atol=1e-5), k
    assert max((one[k] - plain[k]).abs().max().item() for k in one) > 1e-3  # they act


def test_sample_shares_rebuild_the_one_process_samples(monkeypatch):
    """Each rank generates only rows(n) of the samples; in rank order they are the 1-process
    samples (gather_rows, the collective, is the identity here; the test above runs it)."""
    from gankit.distributed import DistContext
    from gankit.nets import build_generator

    assert [DistContext(r, 4).rows(5) for r in range(4)] == [(0, 2), (2, 4), (4, 5), (5, 5)]
    torch.manual_seed(0)
    g = build_generator(build_config("paper-digits", sets=TINY).model, (1, 8, 8)).eval()
    whole = api.sample(g, 7, seed=3, batch_size=2)
    monkeypatch.setattr(DistContext, "gather_rows", lambda self, part, n: part)
    shares = [api.sample(g, 7, seed=3, batch_size=2, dist=DistContext(r, 4)) for r in range(4)]
    assert [len(s) for s in shares] == [2, 2, 2, 1]
    assert torch.allclose(torch.cat(shares), whole, atol=1e-6)
    empty = api.sample(g, 2, seed=3, dist=DistContext(3, 4))
    assert empty.shape == (0, 1, 8, 8)


@pytest.mark.parametrize("draw", ["rand", "randn", "randint"])
def test_shared_stream_shards_concatenate_to_the_one_process_draw(draw):
    """Rank r of N keeps rows [r*n, (r+1)*n) of the global draw, bit for bit; the stream then
    stands where the 1-process stream stands, so the next draw agrees too."""
    from gankit import rng

    def take(shard):
        gen = torch.Generator().manual_seed(7)
        fn = (lambda s: rng.randint(10, s, "cpu")) if draw == "randint" else \
            (lambda s: getattr(rng, draw)(s, "cpu"))
        with rng.shared_stream(gen, shard):
            return torch.cat([fn((6 // shard.world, 3)), fn((6 // shard.world, 3))])

    whole = take(rng.Shard(0, 1))
    parts = [take(rng.Shard(r, 3)) for r in range(3)]
    # Each part holds this rank's 2 rows of the first draw, then of the second.
    assert torch.equal(torch.cat([p[:2] for p in parts]), whole[:6])
    assert torch.equal(torch.cat([p[2:] for p in parts]), whole[6:])
    assert draw != "randint" or (whole.dtype == torch.int64 and int(whole.max()) < 10)
