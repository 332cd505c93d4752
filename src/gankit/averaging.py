"""Polyak averaging of generators across checkpoints: one generator whose weights are the mean.

SGD on a game circles around its equilibrium rather than settling on it; the mean of the
generator's iterates lies nearer the centre than any one of them (Polyak & Juditsky 1992;
for GANs, Yazici et al. 2019). Training is unchanged: the average is taken afterwards from
checkpoints already written, so it can be tried on any finished run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.io.run_dir import versions

AVERAGE = "average"
_Loaded = tuple[Path, dict[str, torch.Tensor], dict[str, Any], Config]
# What must agree for two generators' weights to mean the same thing. The seed too: hidden
# units of independently trained networks do not correspond, so their mean is no generator.
_SAME = (("model", None), ("condition", None), ("data", "name"), ("game", "name"),
         ("train", "seed"))


def average_generators(sources: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write OUT/checkpoints/average: the sources' generators with every weight averaged.

    Floating-point tensors are averaged in float64 (batch-norm running statistics too, which
    is an approximation for convolutional generators); integer ones come from the newest source.
    It is G's own weights (G/) that are averaged, never a run's moving average (train.ema,
    G_ema/), which the result does not hold: it is sampled as the plain average.
    The result holds no discriminator or optimiser state, so it can be sampled, evaluated and
    drawn, not resumed. Returns the checkpoint folder.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GankitError(f"{out} already exists and is not empty; choose a new --out "
                          "(nothing was written)")
    loaded = [_load(source) for source in sources]
    if len(loaded) < 2:
        raise GankitError("averaging needs at least two checkpoints; pass several checkpoint "
                          "folders (or run directories) of one run")
    paths = [path for path, *_ in loaded]
    if len(set(paths)) < len(paths):
        twice = next(p for p in paths if paths.count(p) > 1)
        raise GankitError(f"checkpoint {twice} is given twice; pass each checkpoint once")
    loaded.sort(key=lambda item: item[2]["step"])
    for other in loaded[1:]:
        _check_compatible(loaded[0], other)
    _, newest_tensors, newest_state, _ = loaded[-1]
    averaged = {}
    for key, value in newest_tensors.items():
        if not key.startswith("G/"):
            continue
        if value.is_floating_point():
            total = sum(tensors[key].double() for _, tensors, _, _ in loaded)
            value = (total / len(loaded)).to(value.dtype)
        averaged[key] = value
    state: dict[str, Any] = {
        key: newest_state[key] for key in ("step", "epoch", "config", "image_shape")}
    state["averaged_from"] = [{"checkpoint": str(path), "step": s["step"], "epoch": s["epoch"]}
                              for path, _, s, _ in loaded]
    state["versions"] = versions()
    return ckpt.save_checkpoint(out / "checkpoints", AVERAGE, averaged, state)


def _load(source: str | os.PathLike) -> _Loaded:
    path, tensors, state, cfg = ckpt.load_players(
        source, "gan", "its generators map images, not noise, and are not averaged")
    if "averaged_from" in state:
        raise GankitError(f"{path} is already an average; pass the checkpoints it was made from")
    return path.resolve(), tensors, state, cfg


def _check_compatible(first: _Loaded, other: _Loaded) -> None:
    """Refuse, in one line, to average generators whose weights do not correspond.

    Compares the checkpoints' parsed configs, so a key one of them lacks counts at its default.
    """
    (a, ta, sa, ca), (b, tb, sb, cb) = first, other
    for section, key in _SAME:
        va, vb = asdict(getattr(ca, section)), asdict(getattr(cb, section))
        if key is not None:
            va, vb = va[key], vb[key]
        if va != vb:
            what = f"{section}.{key}" if key else section
            if key is None:
                diff = next(k for k in va if va[k] != vb[k])
                what, va, vb = f"{section}.{diff}", va[diff], vb[diff]
            raise CheckpointError(f"cannot average {b} with {a}: their {what} differ ({vb!r} vs "
                                  f"{va!r}); average checkpoints of one run")
    shapes_a = {k: tuple(v.shape) for k, v in ta.items() if k.startswith("G/")}
    shapes_b = {k: tuple(v.shape) for k, v in tb.items() if k.startswith("G/")}
    if shapes_a != shapes_b or sa["image_shape"] != sb["image_shape"]:
        raise CheckpointError(f"cannot average {b} with {a}: their generators' tensors differ "
                              "in name or shape; average checkpoints of one run")
