"""Small, fast configurations for tests that train."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from gankit.config import Config, build_config

TINY = ["model.g_hidden=[64, 64]", "model.d_units=[32, 32]", "model.noise_dim=16",
        "train.batch_size=50", "train.log_every=5", "train.sample_every=1",
        "train.checkpoint_every=1", "report.html=false"]


def tiny_config(*sets: str) -> Config:
    return build_config("quickstart", sets=[*TINY, *sets])


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (they are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
