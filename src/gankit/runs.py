"""A run's provenance (versions, seed, device, command line) for RUN/run.json.

The run directory itself (its layout, lock and creation) lives in gankit.io.run_dir and the
metrics log in gankit.io.metrics_log; their names stay importable from here.
"""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

import numpy as np
import torch

from gankit.io.metrics_log import METRICS, MetricsLog, NullLog, read_metrics
from gankit.io.run_dir import (
    CONFIG,
    LOCK,
    RUN_INFO,
    RunLock,
    create_run_dir,
    default_run_dir,
    write_run_info,
)
from gankit.version import __version__

__all__ = ["CONFIG", "LOCK", "METRICS", "RUN_INFO", "MetricsLog", "NullLog", "RunLock",
           "create_run_dir", "default_run_dir", "read_metrics", "run_info", "versions",
           "write_run_info"]


def versions() -> dict[str, str]:
    return {"gankit": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def run_info(seed: int, device: torch.device) -> dict[str, Any]:
    return {"seed": seed, "device": str(device), "versions": versions(),
            "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "torch_threads": torch.get_num_threads()}
