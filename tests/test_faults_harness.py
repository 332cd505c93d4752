"""Crash safety, proven by fault injection (the harness is tests/fault_harness.py).

GANKIT_FAULT_TRIALS sets the number of trials (default 10, about 20 s of CPU); the figures in
docs/reliability.md come from a longer run of the same harness.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

TRIALS = int(os.environ.get("GANKIT_FAULT_TRIALS", "10"))
SEED = int(os.environ.get("GANKIT_FAULT_SEED", "0"))


def test_killed_and_signalled_runs_resume_bit_identical(tmp_path):
    harness = Path(__file__).with_name("fault_harness.py")
    r = subprocess.run([sys.executable, str(harness), "--trials", str(TRIALS), "--seed",
                        str(SEED), "--work", str(tmp_path)], capture_output=True, text=True,
                       timeout=1800)
    assert r.stdout.startswith("{"), r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads(r.stdout)
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}))
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)[:6000]
    assert r.returncode == 0
    assert report["trials"] == report["bit_exact"] == TRIALS
    # Every kind of fault was delivered at least once and each was followed by a resume.
    assert all(n >= 1 for n in report["faults"].values()), report["faults"]
    assert report["resumes"] == sum(report["faults"].values())
    assert report["sigkills"] == sum(report["faults"][k] for k in ("step", "line", "torn"))
