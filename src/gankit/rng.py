"""Training's random draws, independent of how many processes share a minibatch.

Noise, dropout masks and a conditional run's fake classes are drawn from one generator seeded
by the run's seed. In a data-parallel run every process holds the same generator, draws the
tensor for the *global* minibatch and keeps its own slice, so example j of a global batch sees
the same z, masks and class whether 1 or N processes train: an N-process run computes the
1-process update, and a checkpoint (which saves this generator) resumes under any number of
processes. Outside a ``shared_stream`` block draws come from torch's global RNG as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch


@dataclass(frozen=True)
class Shard:
    """This process's place in the global minibatch."""

    rank: int = 0
    world: int = 1


_STREAM: ContextVar[tuple[torch.Generator, Shard] | None] = ContextVar("gankit_rng", default=None)


@contextmanager
def shared_stream(generator: torch.Generator, shard: Shard = Shard()) -> Iterator[None]:
    token = _STREAM.set((generator, shard))
    try:
        yield
    finally:
        _STREAM.reset(token)


def current_generator() -> torch.Generator | None:
    """The generator of the enclosing ``shared_stream`` block, None outside one."""
    stream = _STREAM.get()
    return None if stream is None else stream[0]


def _draw(sample: Callable[..., torch.Tensor], shape: tuple[int, ...],
          device: torch.device | str, generator: torch.Generator | None) -> torch.Tensor:
    """``sample`` of ``shape``, whose first dimension is this process's share of the batch."""
    stream = _STREAM.get() if generator is None else None
    if stream is None:
        return sample(shape, device=device, generator=generator)
    gen, shard = stream
    n = shape[0]
    full = sample((n * shard.world, *shape[1:]), device=gen.device, generator=gen)
    return full[shard.rank * n:(shard.rank + 1) * n].to(device, non_blocking=True)


def rand(shape: tuple[int, ...], device: torch.device | str,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """U[0, 1) draws (see _draw)."""
    return _draw(torch.rand, shape, device, generator)


def randn(shape: tuple[int, ...], device: torch.device | str,
          generator: torch.Generator | None = None) -> torch.Tensor:
    """N(0, 1) draws (see _draw)."""
    return _draw(torch.randn, shape, device, generator)


def randint(high: int, shape: tuple[int, ...], device: torch.device | str,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Integers uniform in [0, high), e.g. a fake minibatch's classes (see _draw)."""
    return _draw(partial(torch.randint, high), shape, device, generator)


def derived_seed(*parts: int) -> int:
    """A 63-bit seed for a named stream (e.g. the data order of one epoch) of a run's seed."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> 1)
