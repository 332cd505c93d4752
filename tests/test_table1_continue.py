"""benchmarks/table1.py --continue resumes at its last budget, not past it: a run stopped
between budgets (a machine taken away) must not carry uncounted training into the next budget."""

from __future__ import annotations

import json
import shutil
import sys
from types import SimpleNamespace

import torch
from helpers import load_benchmark, tiny_config

import gankit
from gankit.api import resume, train
from gankit.io.checkpoint import read_checkpoint, resolve

table1 = load_benchmark("table1")


def test_continue_rewinds_to_the_last_budget_and_redoes_the_steps_exactly(tmp_path):
    run = tmp_path / "run"
    train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    budget, _ = resolve(run)  # what the table's last row scored
    step = read_checkpoint(budget)[1]["step"]
    shutil.copytree(budget, run / "budgets" / "1min")
    row = {"budget_min": 1.0, "step": step}
    assert not table1.rewind_to_budget(run, row)  # nothing past the budget: nothing moved

    resume(run, epochs=3, progress=False)  # training went on past the budget, uncounted
    past, _ = resolve(run)
    past_tensors, past_state = read_checkpoint(past)
    assert past_state["step"] > step

    aside = table1.rewind_to_budget(run, row)
    assert aside == run / f"beyond-1min-step-{past_state['step']}"
    now, _ = resolve(run)
    assert now.name == "budget-1min" and read_checkpoint(now)[1]["step"] == step
    kept = aside / past.name  # moved aside, never deleted
    assert read_checkpoint(kept)[1]["step"] == past_state["step"]

    resume(run, epochs=3, progress=False)  # the steps are redone, bit for bit
    again_tensors, again_state = read_checkpoint(resolve(run)[0])
    assert again_state["step"] == past_state["step"]
    assert all(torch.equal(again_tensors[k], past_tensors[k]) for k in past_tensors)


def test_a_run_stopped_from_outside_writes_no_row(tmp_path, monkeypatch, capsys):
    """A kill before the budget is reached must not record a row for it (once, a kill did)."""
    stopped = SimpleNamespace(step=7, epoch=0)  # returned without the budget having fired
    monkeypatch.setattr(table1, "load_dataset", lambda *a, **k: SimpleNamespace(flat=list))
    monkeypatch.setattr(gankit, "train", lambda *a, **k: stopped)
    monkeypatch.setattr(gankit, "resume", lambda *a, **k: stopped)
    monkeypatch.setattr(table1, "rewind_to_budget", lambda run, row: None)
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["table1.py", "--budgets", "10", "--out", str(run)])
    table1.main()
    assert not (run / "table1.json").exists()
    assert "stopped before the first budget" in capsys.readouterr().out

    run.mkdir()
    table = json.dumps([{"preset": "paper-mnist", "sets": [], "budget_min": 10.0,
                         "cpu_s": 600.0, "wall_s": 610.0, "step": 5}]) + "\n"
    (run / "table1.json").write_text(table)
    monkeypatch.setattr(sys, "argv", ["table1.py", "--continue", "--budgets", "20", "--out",
                                      str(run)])
    table1.main()
    assert (run / "table1.json").read_text() == table
    assert "stopped before the 20-minute budget" in capsys.readouterr().out
