"""Small, fast configurations for tests that train."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

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
    return build_config("paper-digits", sets=[*TINY, *sets])


def batches(reals, labels=None) -> list[Batch]:
    """Minibatches as the steps take them: one ``Batch`` per real tensor, labelled if given."""
    return [Batch(real, y) for real, y in
            zip(reals, [None] * len(reals) if labels is None else labels, strict=True)]


def gan_step(schedule: str = "simultaneous", g_loss: GLoss = generator_loss_non_saturating,
             aux_weight: float = 0.0):
    """The autograd step of ``schedule`` over the GAN objective, called ``step(g, d, batches)``."""
    return SCHEDULES[schedule](GanObjective(g_loss, aux_weight))


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (they are scripts, not a package).

    benchmarks/ is on sys.path while it loads, as when the script is run, so that it can
    import its siblings (stable.py imports collapse.py, small_data.py folder_halves.py).
    """
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def gankit(*args, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """The command line as a user runs it: a subprocess with its exit code and output."""
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, **kwargs)


def cli_sets(*extra: str) -> list[str]:
    """``--set`` options for TINY plus ``extra``."""
    return [a for s in (*TINY, *extra) for a in ("--set", s)]


class Replay(torch.nn.Module):
    """A 'generator' that returns the given images: exactly as diverse as they are."""

    noise_dim = 1
    output = "sigmoid"

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = images

    def sample_noise(self, n, generator=None):
        return torch.randint(len(self.images), (n, 1), generator=generator).float()

    def forward(self, z):
        return self.images[z.long().squeeze(1)]


def weights(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The newest checkpoint's weight and optimiser tensors (G/, D/, opt_*), and its state."""
    from gankit.io import checkpoint as ckpt

    tensors, state = ckpt.read_checkpoint(ckpt.resolve(run_dir)[0])
    return {k: v for k, v in tensors.items() if k[:2] in ("G/", "D/", "op")}, state


def assert_resume_is_bit_identical(tmp_path: Path, sets: list[str]) -> None:
    """Two epochs straight, and one epoch resumed to two, end on the same tensors."""
    from gankit.api import resume, train

    train(config=tiny_config(*sets), out=tmp_path / "whole", progress=False)
    train(config=tiny_config(*sets, "train.epochs=1"), out=tmp_path / "split", progress=False)
    resume(tmp_path / "split", epochs=2, progress=False)
    a, sa = weights(tmp_path / "whole")
    b, sb = weights(tmp_path / "split")
    assert a.keys() == b.keys() and len(a) > 10
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sa["step"] == sb["step"] > 0 and sa["epoch"] == sb["epoch"] == 2


class Scale(nn.Module):
    """G(x) = k x + b: a generator whose outputs a test can compute by hand."""

    def __init__(self, k: float, b: float = 0.0) -> None:
        super().__init__()
        self.k, self.b = k, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x + self.b


def assert_spectral_norm_holds(layers: list[nn.Module]) -> None:
    """Push the raw weights away from norm 1, run 300 power iterations (in training mode each
    read of a weight is one), then every layer's top singular value is 1 and the raw one not."""
    with torch.no_grad():
        for m in layers:
            m.parametrizations.weight.original.mul_(7)
    for _ in range(300):
        for m in layers:
            m.weight  # noqa: B018
    for m in layers:
        w = m.weight.detach().double().reshape(m.weight.shape[0], -1)
        raw = m.parametrizations.weight.original.double().reshape(w.shape[0], -1)
        top, top_raw = torch.linalg.svd(w).S[0].item(), torch.linalg.svd(raw).S[0].item()
        assert abs(top - 1.0) <= 2e-3 and abs(top_raw - 1) > 0.2, (top, top_raw)
