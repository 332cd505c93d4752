"""Small, fast configurations for tests that train."""

from __future__ import annotations

from gankit.config import Config, build_config

TINY = ["model.g_hidden=[64, 64]", "model.d_units=[32, 32]", "model.noise_dim=16",
        "train.batch_size=50", "train.log_every=5", "train.sample_every=1",
        "train.checkpoint_every=1", "report.html=false"]


def tiny_config(*sets: str) -> Config:
    return build_config("quickstart", sets=[*TINY, *sets])
