"""Choose how the configured update runs: fused by hand, plain autograd, compiled, autocast.

Every choice computes the same update (tests/test_speed.py holds each one to the plain autograd
step within a stated tolerance); they differ in speed and in float rounding.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from gankit import rng
from gankit.config import Config
from gankit.core.fused import FusedSimultaneousStep, supports
from gankit.core.objective import Objective
from gankit.core.players import Player, StepStats
from gankit.core.schedules import SCHEDULES
from gankit.errors import ConfigError
from gankit.stabilisers import stabilisers_on

# step(g, d, batches): one iteration of the schedule (gankit.core.schedules)
StepFn = Callable[[Player, Player, Sequence[Any]], StepStats]


def apply_process_settings(cfg: Config) -> None:
    """Apply ``speed.threads`` (process-wide, as torch's own setting is)."""
    if cfg.speed.threads:
        torch.set_num_threads(cfg.speed.threads)


def flushing_subnormals() -> bool:
    """Whether this process now flushes subnormal floats to zero (torch has no getter)."""
    tiny = torch.finfo(torch.float32).tiny
    return bool((torch.tensor([tiny]) / 4 * 4 == 0).item())


@contextlib.contextmanager
def subnormals_flushed(enabled: bool) -> Iterator[None]:
    """Flush subnormal floats (below 1.2e-38) to zero inside the block, on CPUs that can.

    A trained paper-mnist G saturates background pixels of its sigmoid to about 1e-40 and its
    backward pass carries such values on; x86 arithmetic on subnormals is many times slower,
    which halved the fused step's throughput after 20 epochs (``speed.flush_denormal``).
    The mode is process-wide, so it is restored on leaving: other code in the process may rely
    on IEEE subnormals.
    """
    before = flushing_subnormals()
    torch.set_flush_denormal(enabled)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def build_step(cfg: Config, objective: Objective, g: Player, d: Player,
               fusable_game: bool = True, distributed: bool = False) -> StepFn:
    """The step function for this config.

    ``auto`` takes the fused step where it implements the run (the paper's unconditional MLP
    game in one process) and the autograd step (``gankit.core.schedules``) everywhere else,
    e.g. with any other loss or regulariser (``gankit.stabilisers``) on.
    """
    sp = cfg.speed
    extras = stabilisers_on(cfg)
    fusable = (fusable_game and cfg.game.schedule == "simultaneous" and not distributed
               and not extras and supports(g.net, d.net, objective))
    if sp.step == "fused" and extras:
        raise ConfigError(f"speed.step = 'fused' implements the paper's game only, without "
                          f"{', '.join(extras)}; use speed.step = 'auto' or 'autograd'")
    if sp.step == "fused":
        if not fusable:
            raise ConfigError("speed.step = 'fused' needs game.schedule = 'simultaneous', the "
                              "paper's MLP models, no condition.classes and one process; "
                              "use 'auto' or 'autograd'")
        if sp.compile or sp.autocast != "none":
            raise ConfigError("speed.step = 'fused' runs without autograd, so speed.compile and "
                              "speed.autocast do not apply; use speed.step = 'autograd'")
        return FusedSimultaneousStep(objective)
    if sp.step == "auto" and fusable and not sp.compile and sp.autocast == "none":
        return FusedSimultaneousStep(objective)
    step: StepFn = SCHEDULES[cfg.game.schedule](objective)
    if sp.compile:
        step = CompiledStep(step)
    if sp.autocast == "bf16":
        step = AutocastStep(step)
    return step


class AutocastStep:
    """The step under bf16 autocast: matrix products in bfloat16, weights and updates in fp32."""

    def __init__(self, step: StepFn) -> None:
        self.step = step

    def __call__(self, g: Player, d: Player, batches: Sequence[Any]) -> StepStats:
        device = next(g.net.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16):
            stats = self.step(g, d, batches)
        return StepStats(*(s.float() for s in stats))


class CompiledStep:
    """The step with both networks under ``torch.compile``, falling back to eager on failure.

    The first call compiles (``compile_seconds`` records how long it took). If it raises, the
    players and the RNG are put back as they were, a warning names the error, and the step runs
    eagerly from then on. Compiled dropout draws its masks in another way than eager dropout,
    so a seeded run gives other (equally distributed) numbers; without dropout the two agree
    to float32 rounding (tests/test_speed.py).
    """

    def __init__(self, step: StepFn) -> None:
        self.step = step
        self.compiled: dict[int, Player] = {}
        self.compile_seconds: float | None = None
        self.failed: str | None = None

    def _wrap(self, p: Player) -> Player:
        if id(p) not in self.compiled:
            ddp = None if p.ddp is None else torch.compile(p.ddp)
            self.compiled[id(p)] = Player(torch.compile(p.net), p.opt, p.lr_schedule, ddp)
        return self.compiled[id(p)]

    def __call__(self, g: Player, d: Player, batches: Sequence[Any]) -> StepStats:
        args = (batches,)
        if self.failed is not None:
            return self.step(g, d, *args)
        if self.compile_seconds is not None:
            return self.step(self._wrap(g), self._wrap(d), *args)
        saved = _snapshot(g, d)
        start = time.perf_counter()
        try:
            stats = self.step(self._wrap(g), self._wrap(d), *args)
        except Exception as exc:  # any compiler failure: fall back, never lose the run
            _restore(g, d, saved)
            self.failed = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
            warnings.warn(f"torch.compile failed ({self.failed}); running eagerly", stacklevel=2)
            return self.step(g, d, *args)
        self.compile_seconds = time.perf_counter() - start
        return stats


def _snapshot(g: Player, d: Player) -> dict[str, Any]:
    copy = {}
    for name, p in (("g", g), ("d", d)):
        copy[name] = ({k: v.clone() for k, v in p.net.state_dict().items()},
                      _clone(p.opt.state_dict()), p.lr_schedule.state_dict())
    copy["rng"] = torch.get_rng_state()
    stream = rng.current_generator()  # the shared stream the step draws noise and masks from
    if stream is not None:
        copy["stream"] = (stream, stream.get_state())
    if torch.cuda.is_available():
        copy["cuda_rng"] = torch.cuda.get_rng_state_all()
    return copy


def _restore(g: Player, d: Player, saved: dict[str, Any]) -> None:
    for name, p in (("g", g), ("d", d)):
        net, opt, sched = saved[name]
        p.net.load_state_dict(net)
        p.opt.load_state_dict(opt)
        p.lr_schedule.load_state_dict(sched)
    torch.set_rng_state(saved["rng"])
    if "stream" in saved:
        stream, state = saved["stream"]
        stream.set_state(state)
    if "cuda_rng" in saved:
        torch.cuda.set_rng_state_all(saved["cuda_rng"])


def _clone(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    return obj
