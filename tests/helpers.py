"""Small, fast configurations for tests that train."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from gankit.config import Config, build_config
from gankit.core.game import Batch
from gankit.core.losses import generator_loss_non_saturating
from gankit.core.objective import GanObjective
from gankit.core.players import GLoss
from gankit.core.schedules import SCHEDULES

TINY = ["model.g_hidden=[64, 64]", "model.d_units=[32, 32]", "model.noise_dim=16",
        "train.batch_size=50", "train.log_every=5", "train.sample_every=1",
        "train.checkpoint_every=1", "report.html=false"]


def tiny_config(*sets: str) -> Config:
    return build_config("quickstart", sets=[*TINY, *sets])


def batches(reals, labels=None) -> list[Batch]:
    """Minibatches as the steps take them: one ``Batch`` per real tensor, labelled if given."""
    return [Batch(real, y) for real, y in
            zip(reals, [None] * len(reals) if labels is None else labels, strict=True)]


def gan_step(schedule: str = "simultaneous", g_loss: GLoss = generator_loss_non_saturating,
             aux_weight: float = 0.0):
    """The autograd step of ``schedule`` over the GAN objective, called ``step(g, d, batches)``."""
    return SCHEDULES[schedule](GanObjective(g_loss, aux_weight))


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (they are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
