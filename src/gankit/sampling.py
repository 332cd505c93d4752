"""A trained generator read back from a run, and samples drawn from it.

Below the training machinery on purpose: evaluation, figures and the report sample runs
without importing the trainer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from gankit import distributed
from gankit.data.ranges import to_unit
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.nets import build_generator
from gankit.nets.noise import sample_noise


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   raw: bool = False) -> nn.Module:
    """The generator of a run directory (its latest intact checkpoint) or checkpoint folder.

    A run trained with ``train.ema`` gives the moving average of G's weights, unless ``raw``
    asks for G itself; ``generator_kind`` says which a checkpoint gives.
    """
    resolved, tensors, state, cfg = ckpt.load_players(
        path, "gan", "its generators map images, not noise: use `gankit translate`")
    try:
        g = build_generator(cfg.model, tuple(state["image_shape"]), condition=cfg.condition)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {resolved} holds a generator that does not match its "
                              f"own config ({str(exc).splitlines()[0]})") from None
    ckpt.load_prefixed(g, tensors, ckpt.generator_prefix(tensors, raw), resolved)
    return g.to(device).eval()


def generator_kind(tensors: dict[str, torch.Tensor], raw: bool = False) -> str:
    """Which generator a checkpoint gives: "ema" (G's moving average) or "raw" (G itself)."""
    return "ema" if ckpt.generator_prefix(tensors, raw) == ckpt.G_EMA else "raw"


def for_display(images: torch.Tensor, source: str | os.PathLike | nn.Module) -> torch.Tensor:
    """Samples of ``source``'s generator mapped to [0, 1] for pictures (tanh: (x + 1) / 2)."""
    g = source if isinstance(source, nn.Module) else load_generator(source)
    return to_unit(images, getattr(g, "output", "sigmoid"))


def sample(source: str | os.PathLike | nn.Module, n: int, seed: int | None = None,
           device: str | torch.device = "cpu", batch_size: int = 1000,
           labels: Sequence[int] | torch.Tensor | None = None,
           dist: distributed.DistContext | None = None, raw: bool = False) -> torch.Tensor:
    """``n`` samples (N, C, H, W) in the data's range, from a generator or a run/checkpoint path.

    A conditional generator draws sample i of class ``labels[i]`` (default: i mod classes).
    With ``dist`` (a data-parallel run's context, every rank calling), each process generates
    its share of the n samples and every rank returns all of them: the same as one process.
    From a path, the generator is that of ``load_generator`` (``raw``: G, not its average).
    """
    if n < 1:
        raise GankitError(f"the number of samples must be at least 1, got {n}")
    g = source if isinstance(source, nn.Module) else load_generator(source, device, raw)
    gen = torch.Generator()
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    # All noise is drawn at once on the CPU: the samples do not depend on batch_size or device.
    z = sample_noise(n, g.noise_dim, g.prior, "cpu", gen)
    device = next(g.parameters()).device
    y = class_labels(g, n, labels)
    ctx = dist or distributed.DistContext()
    lo, hi = ctx.rows(n)
    with torch.no_grad():  # range(...) or [lo]: a rank with no share still yields 0 rows
        parts = [(g(z[i:min(i + batch_size, hi)].to(device)) if y is None else
                  g(z[i:min(i + batch_size, hi)].to(device),
                    y[i:min(i + batch_size, hi)].to(device))).cpu()
                 for i in range(lo, hi, batch_size) or [lo]]
    return ctx.gather_rows(torch.cat(parts), n)


def class_labels(g: nn.Module, n: int, labels: Sequence[int] | torch.Tensor | None
                 ) -> torch.Tensor | None:
    """Checked labels for ``n`` samples of ``g`` (None for an unconditional generator)."""
    classes = getattr(g, "classes", 0)
    if not classes:
        if labels is not None:
            raise GankitError("this generator is unconditional; it takes no class labels")
        return None
    y = torch.arange(n) % classes if labels is None else torch.as_tensor(labels).long().flatten()
    if len(y) == 1:
        y = y.expand(n)
    if len(y) != n or int(y.min()) < 0 or int(y.max()) >= classes:
        raise GankitError(f"need {n} class labels in 0..{classes - 1} (or one for all), got "
                          f"{y.tolist()[:10]}")
    return y
