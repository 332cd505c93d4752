"""Data-parallel training with torch.distributed: torchrun's environment, DDP, rank 0 writes.

Semantics (docs in README): ``train.batch_size`` is the global batch, split evenly over the
processes; each epoch's shuffled order is the same on every rank and rank r takes its slice of
each global batch; noise and dropout come from gankit.rng's shared stream, so N processes
compute the 1-process update. Only rank 0 writes files. Backend: NCCL on CUDA, Gloo on CPU.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gankit.errors import ConfigError, GankitError
from gankit.rng import Shard

TIMEOUT = timedelta(seconds=float(os.environ.get("GANKIT_DIST_TIMEOUT", "300")))


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def sum_(self, tensors: list[torch.Tensor]) -> None:
        """In-place sum over ranks (one collective for the whole list)."""
        if not self.active:
            return
        flat = torch.stack([t.reshape(()) for t in tensors])
        dist.all_reduce(flat)
        for t, v in zip(tensors, flat, strict=True):
            t.copy_(v)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on any: ranks must agree to stop together."""
        if not self.active:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def rows(self, n: int) -> tuple[int, int]:
        """This rank's share [lo, hi) of ``n`` rows: ceil(n / world) each, in rank order."""
        m = -(-n // self.world)
        return min(n, self.rank * m), min(n, (self.rank + 1) * m)

    def gather_rows(self, part: torch.Tensor, n: int) -> torch.Tensor:
        """All ``n`` rows on every rank, from each rank's ``part`` (its rows(n), maybe none).

        Work such as generating evaluation samples is split this way; parts are padded to one
        size for all_gather, which every backend has (NCCL gathers on this rank's GPU).
        """
        if not self.active:
            return part
        m = -(-n // self.world)
        device = (torch.device("cuda", torch.cuda.current_device())
                  if dist.get_backend() == "nccl" else torch.device("cpu"))
        padded = part.new_zeros((m, *part.shape[1:]), device=device)
        padded[:len(part)] = part
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        return torch.cat(parts)[:n].to(part.device)

    def wrap(self, net: nn.Module, device: torch.device, sync_bn: bool = False
             ) -> nn.Module | None:
        """The DDP wrapper used for the forward passes whose backward updates ``net``."""
        if not self.active:
            return None
        if sync_bn:
            sync_batchnorm(net, device)
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)


def from_env() -> DistContext:
    """Join the process group torchrun described in the environment, or a 1-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    return DistContext(rank, world, local)


def leave_together(code: int) -> int:
    """In a multi-process run: wait for every rank, then end this process at once with ``code``
    (a no-op returning ``code`` in 1-process runs).

    The barrier keeps a rank that finished early from exiting while rank 0 still writes the
    checkpoint and report. Ending with ``os._exit`` then skips the interpreter's teardown, where
    Gloo's and the process group's C++ objects were destroyed in an order that aborted a rank
    now and then ("terminate called without an active exception") after its work was done,
    and failed the job. Everything gankit writes is closed by then (files are written whole
    and closed; the metrics log is opened per line), so only stdio needs flushing.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def broadcast_str(text: str) -> str:
    """Rank 0's ``text`` on every rank (e.g. a run directory named after rank 0's clock)."""
    box = [text]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def device_for(ctx: DistContext, name: str) -> torch.device | None:
    """Each process's device in a multi-process run (its own GPU), else None (use the config)."""
    if ctx.active and name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", ctx.local_rank)
    if ctx.active and name == "mps":
        raise ConfigError("data-parallel training does not support MPS; use --device cpu")
    return None


def local_batch(global_batch: int, ctx: DistContext) -> int:
    if global_batch % ctx.world:
        raise ConfigError(f"train.batch_size = {global_batch} is the global batch and must be "
                          f"divisible by the {ctx.world} processes; choose a multiple of "
                          f"{ctx.world}")
    return global_batch // ctx.world


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``gankit <argv>`` in ``nproc`` processes on this machine under torchrun's agent."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    if nproc < 1:
        raise GankitError(f"--nproc {nproc} must be at least 1")
    try:
        torchrun(["--standalone", f"--nproc_per_node={nproc}", "--module", "gankit", *argv])
    except ChildFailedError as exc:
        failures = ", ".join(f"rank {r} exited with {f.exitcode}"
                             for r, f in sorted(exc.failures.items()))
        raise GankitError(f"the distributed job failed: {failures}; its message is above") \
            from None
    return 0


class SumOverRanks(torch.autograd.Function):
    """The sum of a tensor over all ranks, differentiable: the gradient of each rank's input is
    the sum of the output's gradients over the ranks (torch's own differentiable all_reduce
    is deprecated)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return SumOverRanks.apply(grad)


class GlobalBatchNormMixin:
    """Batch norm over the global batch of a data-parallel run, on any backend.

    torch's SyncBatchNorm runs on GPUs only; this sums (count, sum, sum of squares) over the
    ranks with the differentiable all_reduce, so CPU (Gloo) runs normalise like a 1-process run
    of the global batch. ``sync_batchnorm`` mixes it into existing layers by changing their
    class, so parameters, buffers and checkpoint keys stay those of the plain layer.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)  # type: ignore[misc]
        c = x.shape[1]
        dims = [d for d in range(x.dim()) if d != 1]
        local = torch.cat([x.new_full((1,), float(x.numel() // c)), x.sum(dims),
                           (x * x).sum(dims)])
        total = SumOverRanks.apply(local)
        n, mean = total[0], total[1:c + 1] / total[0]
        var = total[c + 1:] / n - mean * mean
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
                self.num_batches_tracked.add_(1)
        return y


def sync_batchnorm(net: nn.Module, device: torch.device) -> nn.Module:
    """Make every batch-norm layer of ``net`` normalise over the global batch (in place)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and \
                not isinstance(m, GlobalBatchNormMixin):
            m.__class__ = type(f"Global{type(m).__name__}", (GlobalBatchNormMixin, type(m)), {})
    return net
