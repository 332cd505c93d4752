"""The benchmark scripts end bad input as the CLI does: one line naming the problem, the
error's exit code, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gankit.errors import ConfigError, DivergenceError, run_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("error", [ConfigError("bad key"), DivergenceError("NaN at step 3")])
def test_run_script_prints_one_line_and_exits_with_the_errors_code(error, capsys):
    def main() -> None:
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run_script(main)
    assert exit_info.value.code == error.exit_code
    err = capsys.readouterr().err
    assert err.endswith(f": error: {error}\n") and err.count("\n") == 1


def test_run_script_lets_other_errors_through():
    def main() -> None:
        raise ValueError("a bug, not bad input")

    with pytest.raises(ValueError, match="a bug"):
        run_script(main)


def test_every_benchmark_script_runs_its_main_through_run_script():
    scripts = [p for p in BENCHMARKS.glob("*.py")
               if 'if __name__ == "__main__":' in p.read_text()]
    assert len(scripts) >= 20
    for script in scripts:
        assert "run_script(main)" in script.read_text(), script.name


def test_table1_with_a_refused_config_ends_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "table1.py"), "--budgets", "1", "--preset",
         "mnist-stable", "--set", "model.d_minibatch_std=8", "--out", str(tmp_path / "t")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "model.d_minibatch_std = 8 must divide the 100 inputs" in done.stderr
