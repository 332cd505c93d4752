"""Shared fixtures. MNIST comes from $GANKIT_DATA_DIR (CI points it at its own copy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gankit
from gankit.data.mnist import FILES

# Tests run the CLI as subprocesses, some from a temporary cwd. A relative PYTHONPATH (the usual
# PYTHONPATH=src of a worktree) resolves against *their* cwd there and silently imports another
# gankit (an editable install elsewhere); put the package under test first, as an absolute path.
_SRC = str(Path(gankit.__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_SRC, *(str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and str(Path(p).resolve()) != _SRC)])


def _mnist_available() -> Path | None:
    root = os.environ.get("GANKIT_DATA_DIR")
    if not root:
        return None
    folder = Path(root) / "mnist"
    ok = all((folder / f"{n}.gz").exists() or (folder / n).exists() for n in FILES)
    return Path(root) if ok else None


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The data root holding mnist/; skipped only outside CI when no copy is at hand."""
    root = _mnist_available()
    if root is None:
        if os.environ.get("GANKIT_REQUIRE_MNIST") == "1":
            pytest.fail("GANKIT_REQUIRE_MNIST=1 but $GANKIT_DATA_DIR/mnist lacks the MNIST files")
        pytest.skip("MNIST not found: set GANKIT_DATA_DIR to a folder holding mnist/")
    return root


@pytest.fixture(autouse=True)
def _quiet_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test may write to the user's real cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for small convolutions: on a shared, busy 2-core machine two threads
    per process spin against each other; results are unchanged."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
