"""Where datasets live: an explicit folder, else $GANKIT_DATA_DIR, else the user cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("GANKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("gankit")) / "data"
