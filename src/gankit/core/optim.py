"""Optimisers and their schedules: the authors' classic momentum, and Adam.

Learning rate: lr_t = max(lr / decay**t, lr_min) after t updates of that player (pylearn2's
ExponentialDecay). Momentum: linear from ``momentum_start`` at epoch 1 to ``momentum_end`` at
``momentum_saturate_epoch``, constant after (pylearn2's MomentumAdjustor).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR

from gankit.config import OptimConfig


class ClassicMomentumSGD(torch.optim.Optimizer):
    """inc = mu * inc - lr * g; p += inc.

    Not torch.optim.SGD, whose buf = mu * buf + g; p -= lr * buf differs from this once the
    learning rate changes between steps, as it does every step here.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float,
                 momentum: float = 0.5) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            incs = []
            for p in params:
                state = self.state[p]
                if "inc" not in state:
                    state["inc"] = torch.zeros_like(p)
                incs.append(state["inc"])
            torch._foreach_mul_(incs, group["momentum"])
            torch._foreach_add_(incs, [p.grad for p in params], alpha=-group["lr"])
            torch._foreach_add_(params, incs)

    def increment(self, p: torch.Tensor) -> torch.Tensor:
        """The momentum buffer ``inc`` of ``p``, for steps that write ``mu*inc - lr*g`` in place."""
        state = self.state[p]
        inc = state.get("inc")
        if inc is None or inc.data_ptr() % 64:
            # BLAS results may depend on where the output lies in memory; a buffer read from a
            # checkpoint can be misaligned, so copy it to a 64-byte boundary (as every fresh
            # tensor is) and a resumed run repeats the uninterrupted one bit for bit.
            state["inc"] = inc = torch.zeros_like(p) if inc is None else inc.clone()
        return inc

    @torch.no_grad()
    def apply_increments(self, params: list[torch.nn.Parameter]) -> None:
        """``p += inc`` for increments already updated in place (see ``increment``)."""
        torch._foreach_add_(params, [self.state[p]["inc"] for p in params])
        self._opt_called = True  # what a wrapped step() records for the lr scheduler's check


def lr_at(cfg: OptimConfig, updates: int, player: str = "") -> float:
    """The learning rate used by update number ``updates`` (counting from 0) of ``player``
    ("g", "d": its own ``optim.g_lr`` / ``d_lr`` when set; "": the shared ``optim.lr``)."""
    return max(cfg.player(player)[0] / cfg.lr_decay**updates, cfg.lr_min)


def momentum_at(cfg: OptimConfig, epoch: int) -> float:
    """The momentum of epoch ``epoch`` (counting from 1)."""
    span = max(cfg.momentum_saturate_epoch - 1, 1)
    frac = min(max(epoch - 1, 0) / span, 1.0)
    return cfg.momentum_start + (cfg.momentum_end - cfg.momentum_start) * frac


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter], player: str = ""
                    ) -> tuple[torch.optim.Optimizer, LambdaLR]:
    """The optimiser of ``player`` ("g", "d" or "" for the shared settings) and its
    per-update learning-rate decay."""
    lr, beta1, beta2 = cfg.player(player)
    if cfg.name == "momentum":
        opt: torch.optim.Optimizer = ClassicMomentumSGD(params, lr, cfg.momentum_start)
    else:
        # foreach: the same update, bit for bit (tests/test_pins.py), in fewer, larger kernels;
        # torch leaves it off on the CPU, where it saves about a third of Adam's time
        opt = torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), foreach=True)
    return opt, LambdaLR(opt, lambda t: lr_at(cfg, t, player) / lr)


def set_momentum(opt: torch.optim.Optimizer, momentum: float) -> None:
    for group in opt.param_groups:
        if "momentum" in group:
            group["momentum"] = momentum
