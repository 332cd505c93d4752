"""Fault-injection harness: kill short trainings at random moments, resume, compare bit for bit.

Run it as a script (tests/test_faults_harness.py does, with a moderate trial count):

    python tests/fault_harness.py --trials 200 --seed 1 --work /tmp/faults

One long-lived process imports torch and gankit once and forks a child process per training
run, so that a trial costs a training, not an interpreter start. Each child runs
``gankit.cli.main`` exactly as the command line does, with one fault installed from outside
the production code (no test hooks in gankit):

- ``step``: SIGKILL right after training step n;
- ``line``: SIGKILL at the k-th executed line of gankit/io/checkpoint.py and of the atomic text
  writes (gankit/io/atomic.py: ``latest``, config.toml, run.json, the log's truncation) under
  sys.settrace, so at any point inside writing, renaming, pointing ``latest`` at or pruning a
  checkpoint;
- ``torn``: the k-th file write (safetensors, state/manifest JSON, a metrics line) stops
  after a random prefix of its bytes, then SIGKILL, as a crash in the middle of a write;
- ``sigterm``: SIGTERM after step n (expect exit 143 and a checkpoint);
- ``sigint2``: SIGINT after step n, then a second SIGINT at a random line of the checkpoint
  being written for it (expect exit 130 at once, nothing corrupted).

After each fault the run is continued with ``gankit train --resume`` (possibly hit by a further
fault) until it finishes. Its final checkpoint (weights, optimiser state, RNG state), its sample
grids and, for runs without signals, its metrics log must equal those of an uninterrupted run
of the same config bit for bit. The report counts trials, faults delivered, resumes and
failures; a failure names its trial, its faults and what differed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path

KINDS = ("step", "line", "torn", "sigterm", "sigint2")
EXPECTED_EXIT = {"sigterm": 128 + signal.SIGTERM, "sigint2": 128 + signal.SIGINT}
TINY = ["model.g_hidden=[64, 64]", "model.d_units=[32, 32]", "model.noise_dim=16",
        "train.batch_size=50", "train.log_every=5", "train.sample_every=1",
        "train.checkpoint_every=1", "train.keep_checkpoints=2"]
VARIANTS = {
    "simultaneous": [*TINY, "train.epochs=2"],
    "alternating": [*TINY, "train.epochs=3", "game.schedule=alternating", "game.d_steps=2"],
}


# ----------------------------------------------------------------------------- in the child
def _install(kind: str | None, at: int, at2: int, frac: float, counts: dict[str, int]) -> None:
    """Count steps, checkpoint lines and writes; deliver the fault ``kind`` at count ``at``."""
    import pathlib

    import gankit.io.atomic as atomic_mod
    import gankit.io.checkpoint as ckpt_mod
    import gankit.io.metrics_log as log_mod
    import gankit.training.trainer as trainer_mod

    armed = {"sigint2": False}

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def counted_step(step):
        def counted(*args, **kwargs):
            out = step(*args, **kwargs)
            counts["steps"] += 1
            if counts["steps"] == at:
                if kind == "step":
                    die()
                elif kind == "sigterm":
                    os.kill(os.getpid(), signal.SIGTERM)
                elif kind == "sigint2":
                    os.kill(os.getpid(), signal.SIGINT)
                    armed["sigint2"] = True
            return out
        return counted

    # Count every training step, whichever step function the config selects (fused or not).
    build_step = trainer_mod.build_step
    trainer_mod.build_step = lambda *a, **k: counted_step(build_step(*a, **k))

    target = os.path.realpath(ckpt_mod.__file__)
    atomic = os.path.realpath(atomic_mod.__file__)
    lines_since_armed = [0]

    def local(frame, event, arg):
        if event == "line":
            counts["lines"] += 1
            if kind == "line" and counts["lines"] == at:
                die()
            if armed["sigint2"]:
                lines_since_armed[0] += 1
                if lines_since_armed[0] == at2:
                    armed["sigint2"] = False
                    os.kill(os.getpid(), signal.SIGINT)
        return local

    def checkpoint_or_text_write(frame) -> bool:
        """Called by checkpoint.py or inside write_text_atomic: the code that checkpoint.py
        held before the atomic writes moved to gankit.io (not sample grids or figures)."""
        while frame is not None:
            code = frame.f_code
            if code.co_filename == target or (code.co_filename == atomic
                                              and code.co_name == "write_text_atomic"):
                return True
            frame = frame.f_back
        return False

    def calls(frame, event, arg):
        name = frame.f_code.co_filename
        traced = name == target or (name == atomic and checkpoint_or_text_write(frame))
        return local if traced else None

    sys.settrace(calls)

    def tear(path: Path, data: bytes | None) -> None:
        """Leave only a prefix of the file's bytes, as a crash mid-write would, and die."""
        if data is None:
            data = path.read_bytes()
        with open(path, "wb") as f:
            f.write(data[:int(len(data) * frac)])
            f.flush()
            os.fsync(f.fileno())
        die()

    def hit() -> bool:
        counts["writes"] += 1
        return kind == "torn" and counts["writes"] == at

    real_save = ckpt_mod.save_file

    def save_file(tensors, filename, *a, **k):
        real_save(tensors, filename, *a, **k)
        if hit():
            tear(Path(filename), None)

    ckpt_mod.save_file = save_file
    real_write_text = pathlib.Path.write_text

    def write_text(self, data, *a, **k):
        if hit():
            tear(self, data.encode())
        return real_write_text(self, data, *a, **k)

    pathlib.Path.write_text = write_text
    real_log = log_mod.MetricsLog.write

    def log_write(self, record):
        if hit():
            with self.path.open("ab") as f:
                line = (json.dumps(record) + "\n").encode()
                f.write(line[:max(1, int(len(line) * frac))])
            die()
        return real_log(self, record)

    log_mod.MetricsLog.write = log_write
    real_checkpoint = ckpt_mod.save_checkpoint

    def save_checkpoint(*args, **kwargs):
        counts["saves"] += 1
        return real_checkpoint(*args, **kwargs)

    ckpt_mod.save_checkpoint = save_checkpoint


def _child(argv: list[str], log: Path, kind: str | None, at: int, at2: int, frac: float,
           counts_out: Path | None) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    rc = 99
    try:
        from gankit import cli

        counts = {"steps": 0, "lines": 0, "writes": 0, "saves": 0}
        _install(kind, at, at2, frac, counts)
        rc = cli.main(argv)
        sys.settrace(None)
        if counts_out is not None:
            counts_out.write_text(json.dumps(counts))
    except BaseException:  # noqa: BLE001 - any escape is a failure the parent reports
        traceback.print_exc()
        rc = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


def run_child(argv: list[str], log: Path, kind: str | None = None, at: int = 0, at2: int = 0,
              frac: float = 0.0, counts_out: Path | None = None) -> tuple[str, int]:
    """Fork a child running ``gankit argv``; ("exit", code) or ("signal", number)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(argv, log, kind, at, at2, frac, counts_out)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "signal", os.WTERMSIG(status)
    return "exit", os.WEXITSTATUS(status)


# ----------------------------------------------------------------------------- comparisons
def _final_state(run: Path) -> tuple[dict, dict]:
    from gankit.io import checkpoint as ckpt

    path, warnings = ckpt.resolve(run)
    if warnings:
        raise AssertionError(f"final checkpoint needed a fallback: {warnings}")
    return ckpt.read_checkpoint(path)


def _loss_lines(run: Path) -> list[tuple]:
    from gankit.io.metrics_log import read_metrics

    keys = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "lr", "momentum")
    return [tuple(r[k] for k in keys) for r in read_metrics(run) if "d_loss" in r]


def _differences(ref: Path, run: Path, compare_log: bool) -> list[str]:
    import torch

    problems = []
    ta, sa = _final_state(ref)
    tb, sb = _final_state(run)
    if ta.keys() != tb.keys():
        problems.append(f"tensor names differ: {sorted(ta.keys() ^ tb.keys())[:4]}")
    bad = [k for k in ta.keys() & tb.keys() if not torch.equal(ta[k], tb[k])]
    if bad:
        problems.append(f"{len(bad)} tensors differ, e.g. {sorted(bad)[:3]}")
    for key in ("step", "epoch", "batch_in_epoch", "opt_G", "opt_D", "lr_G", "lr_D"):
        if sa.get(key) != sb.get(key):
            problems.append(f"state.json {key} differs")
    grids = sorted(p.name for p in (ref / "samples").iterdir())
    if grids != sorted(p.name for p in (run / "samples").iterdir()):
        problems.append("sample grids differ in number")
    elif any((ref / "samples" / g).read_bytes() != (run / "samples" / g).read_bytes()
             for g in grids):
        problems.append("a sample grid differs")
    if compare_log and _loss_lines(ref) != _loss_lines(run):
        problems.append("metrics log differs")
    leftovers = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    if leftovers or (run / ".lock").exists():
        problems.append(f"leftovers: {leftovers + ['.lock'] * (run / '.lock').exists()}")
    return problems


# ----------------------------------------------------------------------------- the trials
def harness(trials: int, seed: int, work: Path, max_faults: int = 3) -> dict:
    import torch

    torch.set_num_threads(1)  # children inherit it; one thread per process, and fork-safe
    from gankit import cli

    start = time.perf_counter()
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    # One training in this process first: children inherit its warm imports and lazy set-up.
    with contextlib.redirect_stdout(io.StringIO()):
        if cli.main([*_train_argv(work / "warm-up", VARIANTS["simultaneous"]), "--epochs", "1"]):
            raise RuntimeError("the warm-up training failed")
    refs, limits = {}, {}
    for name, sets in VARIANTS.items():
        refs[name] = work / f"reference-{name}"
        argv = _train_argv(refs[name], sets)
        counts = work / f"reference-{name}.json"
        outcome = run_child(argv, work / f"reference-{name}.log", counts_out=counts)
        if outcome != ("exit", 0):
            raise RuntimeError(f"reference run {name} ended with {outcome}: "
                               + (work / f"reference-{name}.log").read_text()[-2000:])
        limits[name] = json.loads(counts.read_text())
    report = {"trials": 0, "faults": dict.fromkeys(KINDS, 0), "sigkills": 0,
              "faults_not_reached": 0, "resumes": 0, "restarts_from_step_0": 0,
              "bit_exact": 0, "failures": []}
    for i in range(trials):
        variant = rng.choice(sorted(VARIANTS))
        lim = limits[variant]
        run = work / f"trial-{i:04d}"
        log = work / f"trial-{i:04d}.log"
        plan = [KINDS[i % len(KINDS)]] + [rng.choice(KINDS)
                                           for _ in range(rng.randrange(max_faults))]
        delivered, signalled, problems = [], False, []
        argv = _train_argv(run, VARIANTS[variant])
        for kind in [*plan, None]:
            total = {"step": lim["steps"], "sigterm": lim["steps"], "sigint2": lim["steps"],
                     "line": lim["lines"], "torn": lim["writes"]}.get(kind, 1)
            at = rng.randint(1, total)
            at2 = rng.randint(1, max(1, lim["lines"] // lim["saves"]))
            outcome = run_child(argv, log, kind, at, at2, rng.random())
            argv = ["train", "--resume", str(run), "--quiet"]
            if kind is None:
                if outcome != ("exit", 0):
                    problems.append(f"final resume ended with {outcome}")
                break
            if outcome == ("exit", 0):
                report["faults_not_reached"] += 1
                break
            expected = (("exit", EXPECTED_EXIT[kind]) if kind in EXPECTED_EXIT
                        else ("signal", signal.SIGKILL))
            if outcome != expected:
                problems.append(f"{kind} at {at}: ended with {outcome}, expected {expected}")
                break
            delivered.append(f"{kind}@{at}")
            report["faults"][kind] += 1
            report["sigkills"] += kind not in EXPECTED_EXIT
            signalled |= kind in EXPECTED_EXIT
            report["resumes"] += 1
        text = log.read_text(errors="replace") if log.exists() else ""
        report["restarts_from_step_0"] += text.count("starting it again from step 0")
        if "Traceback" in text:
            problems.append("a traceback was printed")
        if not problems:
            try:
                problems = _differences(refs[variant], run, compare_log=not signalled)
            except Exception as exc:  # noqa: BLE001 - reported as this trial's failure
                problems = [f"{exc.__class__.__name__}: {exc}"]
        report["trials"] += 1
        if problems:
            report["failures"].append({"trial": i, "variant": variant, "faults": delivered,
                                       "problems": problems, "log": text[-1500:]})
        else:
            report["bit_exact"] += 1
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["seed"] = seed
    return report


def _train_argv(out: Path, sets: list[str]) -> list[str]:
    return ["train", "--preset", "paper-digits", "--quiet", "--out", str(out),
            *[a for s in sets for a in ("--set", s)]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, required=True, help="an empty scratch folder")
    args = parser.parse_args()
    report = harness(args.trials, args.seed, args.work)
    print(json.dumps(report, indent=1))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
