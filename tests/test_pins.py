"""Pinned numbers: every model kind, trained a few seeded steps across an epoch boundary and
through one resume, ends with exactly the weights and optimiser state it ended with when the
pins were written. A refactor that changes no number keeps every pin; a change that moves a
number on purpose deletes tests/pins/pins.json, writes it anew (GANKIT_WRITE_PINS=1) and says
why in its commit.

Tensor names may change between versions, so each run is pinned as the sorted list of its
tensors' SHA-256 digests (weights, optimiser state, RNG states) plus its step and epoch.

The same code rounds differently on different processors (torch picks its convolution and
matrix kernels by vendor and instruction set), so a kind may hold one pin per kind of CPU, each
labelled with the CPU it was written on. On a CPU none of the pins match, write its pins with
GANKIT_WRITE_PINS=1 from unchanged code (a clean checkout of main) before changing anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.config import build_config
from gankit.io import checkpoint as ckpt

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PINS = Path(__file__).parent / "pins" / "pins.json"
WRITE = os.environ.get("GANKIT_WRITE_PINS") == "1"

SMALL_MLP = ["model.g_hidden=[32, 32]", "model.d_units=[16, 16]", "model.noise_dim=8",
             "train.batch_size=400", "report.html=false"]
SMALL_CONV = ['data.name="digits"', "data.image_size=16", "model.g_width=4", "model.d_width=4",
              "model.noise_dim=8", "train.batch_size=300", "report.html=false"]
COND = ["condition.classes=10", 'data.name="digits"', "data.image_size=0",
        "model.g_output='sigmoid'"]

# name: (preset, sets); each run trains 2 epochs of a few steps (the momentum schedule and the
# data order move at the boundary), and again as 1 epoch plus a resume to 2.
KINDS: dict[str, tuple[str, list[str]]] = {
    "paper-mlp-fused": ("paper-digits", [*SMALL_MLP, "speed.step='fused'"]),
    "paper-mlp-autograd": ("paper-digits", [*SMALL_MLP, "speed.step='autograd'"]),
    "paper-mlp-alternating": ("paper-digits", [*SMALL_MLP, "game.schedule='alternating'",
                                             "game.d_steps=2", "train.batch_size=200"]),
    "paper-mlp-minimax-gaussian": ("paper-digits", [*SMALL_MLP, "game.g_loss='minimax'",
                                                  "model.prior='gaussian'",
                                                  "speed.step='autograd'"]),
    "paper-mlp-bf16": ("paper-digits", [*SMALL_MLP, "speed.autocast='bf16'"]),
    "cgan": ("cgan-mnist", [*SMALL_MLP, *COND]),
    "acgan": ("acgan-mnist", [*SMALL_MLP, *COND, "condition.d_input='none'",
                              "game.schedule='alternating'", "game.d_steps=2",
                              "train.batch_size=200"]),
    "dcgan": ("dcgan-mnist", SMALL_CONV),
    "cdcgan": ("cdcgan-mnist", SMALL_CONV),
    "paper-conv": ("paper-cifar10-conv", ['data.name="folder"', "data.image_size=32",
                                          "model.g_hidden=[16, 8000]", "model.noise_dim=8",
                                          "train.batch_size=4", "report.html=false"]),
    "toy-ring8": ("toy-ring8", ["train.batch_size=2000", "report.html=false"]),
    "toy-grid25": ("toy-grid25", ["train.batch_size=2000", "report.html=false"]),
    "figure1": ("figure1", ["train.batch_size=2000", "report.html=false"]),
    "discogan-toy": ("discogan-toy", ["discogan.hidden=[16, 16]", "train.batch_size=300",
                                      "report.html=false"]),
    "discogan-conv": ("discogan-mnist-invert", [
        'data.name="folders"', "data.image_size=8", 'data.color="grey"', "discogan.width=4",
        "discogan.depth=0", "discogan.global_bottleneck=true", "train.batch_size=8",
        "report.html=false"]),
}


FOLDER_KINDS = ("discogan-conv", "paper-conv")
# Runs written by gankit 0.1 (before the game seam), stopped after one epoch: they must still
# resume and end on the pins.
OLD_RUNS = Path(__file__).parent / "pins" / "runs-0.1"


def _folders(root: Path) -> list[str]:
    """Small deterministic image folders: A and B for the convolutional DiscoGAN, C (12 images)
    for the paper's convolutional GAN."""
    rng = np.random.default_rng(0)
    for name, n, colour in (("A", 20, 20), ("B", 24, 180), ("C", 12, 90)):
        folder = root / name
        if folder.exists():
            continue
        folder.mkdir(parents=True)
        for i in range(n):
            arr = (rng.random((10, 12, 3)) * 60).astype(np.uint8) + np.uint8(colour)
            Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return [f'discogan.folder_a="{root / "A"}"', f'discogan.folder_b="{root / "B"}"',
            f'data.path="{root / "C"}"']


def _config(kind: str, root: Path, epochs: int):
    preset, sets = KINDS[kind]
    extra = _folders(root / "data") if kind in FOLDER_KINDS else []
    return build_config(preset, sets=[*sets, *extra, f"train.epochs={epochs}",
                                      "train.sample_every=0", "train.checkpoint_every=1",
                                      "train.log_every=1", "speed.threads=0"])


def fingerprint(run_dir: Path) -> dict:
    """Step, epoch and the sorted digests of every tensor of the run's newest checkpoint."""
    tensors, state = ckpt.read_checkpoint(ckpt.resolve(run_dir)[0])
    digests = sorted(hashlib.sha256(t.detach().cpu().contiguous().reshape(-1)
                                    .view(torch.uint8).numpy().tobytes()).hexdigest()[:16]
                     for t in tensors.values())
    return {"step": int(state["step"]), "epoch": int(state["epoch"]), "tensors": digests}


def _load_pins() -> dict[str, list[dict]]:
    return json.loads(PINS.read_text()) if PINS.exists() else {}


def _pinned(kind: str) -> list[dict]:
    return [{k: v for k, v in pin.items() if k != "cpu"} for pin in _load_pins().get(kind, [])]


@cache
def cpu_kind() -> str:
    """Vendor and the instruction set torch dispatches to, e.g. 'AuthenticAMD AVX512'."""
    vendor = "unknown vendor"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("vendor_id"):
                vendor = line.split(":", 1)[1].strip()
                break
    return f"{vendor} {torch.backends.cpu.get_cpu_capability()}"


def assert_pinned(kind: str, found: dict) -> None:
    """``found`` must be one of ``kind``'s pins (one per kind of CPU where they differ)."""
    assert found in _pinned(kind), (
        f"{kind}: the numbers moved from the pin, or this CPU ({cpu_kind()}) has none of its own;"
        " if main's unchanged code fails here too, write this CPU's pins with GANKIT_WRITE_PINS=1")


def write_pin(kind: str, found: dict) -> None:
    """Add ``found`` as this CPU's pin of ``kind``, unless a pin already holds it."""
    if found in _pinned(kind):
        return
    pins = _load_pins()
    others = [pin for pin in pins.get(kind, []) if pin.get("cpu") != cpu_kind()]
    pins[kind] = [*others, {"cpu": cpu_kind(), **found}]
    PINS.parent.mkdir(exist_ok=True)
    PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_seeded_steps_match_the_pins(tmp_path, kind):
    api.train(config=_config(kind, tmp_path, 2), out=tmp_path / "whole", progress=False)
    api.train(config=_config(kind, tmp_path, 1), out=tmp_path / "split", progress=False)
    api.resume(tmp_path / "split", epochs=2, progress=False)
    whole, split = fingerprint(tmp_path / "whole"), fingerprint(tmp_path / "split")
    assert whole == split, "resume changed the numbers"
    assert whole["epoch"] == 2 and whole["step"] >= 4  # an epoch boundary was crossed
    if WRITE:
        write_pin(kind, whole)
    assert_pinned(kind, whole)


@pytest.mark.parametrize("kind", sorted(p.name for p in OLD_RUNS.iterdir()))
def test_runs_of_the_first_version_resume_onto_the_pins(tmp_path, kind):
    shutil.copytree(OLD_RUNS / kind, tmp_path / kind)
    api.resume(tmp_path / kind, epochs=2, progress=False)
    assert_pinned(kind, fingerprint(tmp_path / kind))
