"""gankit.io: atomic writes, the metrics log's one reader and writer, the resume rules."""

import json

import pytest
import test_architecture as arch

from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint, metrics_log, resume, run_dir
from gankit.io.atomic import (
    atomic_path,
    temporary_name,
    write_bytes_atomic,
    write_text_atomic,
)


def _hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_atomic_writes_replace_the_file_and_leave_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_text_atomic(target, "old\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert _hidden(tmp_path) == []


def test_a_writer_that_raises_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "grid.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk gone"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old"
    assert _hidden(tmp_path) == []


def test_a_killed_writer_leaves_a_temporary_that_resume_clears(tmp_path):
    """A crash between writing and renaming leaves only the hidden .tmp- file."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    leftover = temporary_name(root / "latest")
    leftover.write_text("epoch-0002\n")  # what SIGKILL before the rename leaves
    assert checkpoint.clean_temporaries(root) == [leftover.name]
    assert list(root.iterdir()) == []


def _log(tmp_path, lines):
    (tmp_path / metrics_log.METRICS).write_text("".join(line + "\n" for line in lines))
    return tmp_path / metrics_log.METRICS


def test_readers_skip_a_torn_last_line(tmp_path):
    path = _log(tmp_path, ['{"step": 1, "d_loss": 0.5}', '{"event": "resumed", "step": 1}',
                           '{"step": 2, "d_lo'])
    assert metrics_log.read_metrics(tmp_path) == [{"step": 1, "d_loss": 0.5},
                                                  {"event": "resumed", "step": 1}]
    assert metrics_log.read_log(path) == metrics_log.read_metrics(tmp_path)


def test_read_metrics_keeps_only_lines_of_a_step_read_log_keeps_every_object(tmp_path):
    path = _log(tmp_path, ['{"event": "note"}', '{"step": "x"}', "[1, 2]", "oops",
                           '{"step": 3}'])
    assert metrics_log.read_log(path) == [{"event": "note"}, {"step": "x"}, {"step": 3}]
    assert metrics_log.read_metrics(tmp_path) == [{"event": "note"}, {"step": 3}]


def test_truncate_after_drops_later_steps_and_torn_lines(tmp_path):
    path = _log(tmp_path, ['{"step": 5, "d_loss": 1}', '{"event": "epoch_end", "step": 10}',
                           '{"step": 15, "d_loss": 2}', '{"step": 2'])
    log = metrics_log.MetricsLog(path)
    log.truncate_after(10)
    assert path.read_text() == '{"step": 5, "d_loss": 1}\n{"event": "epoch_end", "step": 10}\n'
    log.write({"step": 11, "d_loss": 3.0})
    assert metrics_log.read_metrics(tmp_path)[-1] == {"step": 11, "d_loss": 3.0}
    assert _hidden(tmp_path) == []


def test_listeners_see_each_record_after_it_is_written(tmp_path):
    log = metrics_log.MetricsLog(tmp_path / metrics_log.METRICS)
    seen = []
    log.listeners.append(lambda r: seen.append((r, len(metrics_log.read_log(log.path)))))
    log.write({"step": 1, "score": 2.0})
    assert seen == [({"step": 1, "score": 2.0}, 1)]
    null = metrics_log.NullLog()
    null.listeners.append(seen.append)
    null.write({"step": 2})
    null.truncate_after(0)
    assert len(seen) == 1


def test_run_dir_of_a_checkpoint_and_refused_paths(tmp_path):
    folder = tmp_path / "run" / "checkpoints" / "epoch-0001"
    folder.mkdir(parents=True)
    (folder / checkpoint.MANIFEST).write_text("{}")
    assert resume.run_dir_of(folder) == tmp_path / "run"
    assert resume.run_dir_of(tmp_path / "run") == tmp_path / "run"
    with pytest.raises(CheckpointError, match="neither a run directory"):
        resume.run_dir_of(tmp_path / "missing")


def test_a_run_stopped_before_its_first_checkpoint_restarts_from_its_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / run_dir.CONFIG).write_text("[train]\nseed = 7\n")
    (run / metrics_log.METRICS).write_text(json.dumps({"step": 3}) + "\n")
    path, cfg, warnings = resume.resume_point(run)
    assert path is None and cfg.train.seed == 7 and "from step 0" in warnings[0]
    assert not (run / metrics_log.METRICS).exists()


def test_a_resumed_run_may_change_only_speed_settings():
    assert resume.resume_overrides(["speed.threads=2"]) == [{"speed": {"threads": 2}}]
    with pytest.raises(GankitError, match="cannot change a resumed run"):
        resume.resume_overrides(["train.lr=0.1"])


def test_io_stays_below_the_rest_of_the_package():
    """gankit.io imports only config, errors, the version and itself."""
    graph = arch.imports()
    allowed = {"gankit.config", "gankit.errors", "gankit.version", "gankit.io"}
    for mod, targets in graph.items():
        if mod.startswith("gankit.io"):
            assert {t for t in targets if not t.startswith("gankit.io.")} <= allowed, mod
    assert not any(m.startswith("gankit.io") for group in arch.modules_in_cycles(graph)
                   for m in group)
