import pytest
import torch

from gankit.config import Config, OptimConfig
from gankit.core.optim import ClassicMomentumSGD, build_optimizer, lr_at, momentum_at


def test_lr_schedule_values():
    c = OptimConfig()
    assert lr_at(c, 0) == 0.1
    assert lr_at(c, 1) == pytest.approx(0.1 / 1.000004, rel=1e-15)
    assert lr_at(c, 500_000) == pytest.approx(0.1 / 1.000004**500_000, rel=1e-12)  # ~0.0135
    assert lr_at(c, 5_000_000) == 1e-6  # floor


def test_momentum_schedule_values():
    c = OptimConfig()
    assert momentum_at(c, 1) == 0.5
    assert momentum_at(c, 125) == pytest.approx(0.5 + 0.2 * 124 / 249)
    assert momentum_at(c, 250) == pytest.approx(0.7)
    assert momentum_at(c, 1000) == pytest.approx(0.7)


def test_classic_momentum_matches_hand_computation_with_changing_lr():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = ClassicMomentumSGD([p], lr=0.1, momentum=0.5)
    grads = [torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5]), torch.tensor([0.3, 0.3])]
    lrs = [0.1, 0.05, 0.02]
    inc, ref = torch.zeros(2, dtype=torch.float64), p.detach().clone()
    for g, lr in zip(grads, lrs, strict=True):
        opt.param_groups[0]["lr"] = lr
        p.grad = g.double()
        opt.step()
        inc = 0.5 * inc - lr * g.double()
        ref = ref + inc
    assert torch.allclose(p.detach(), ref, atol=0, rtol=1e-15)


def test_scheduler_ticks_set_the_decayed_lr():
    p = torch.nn.Parameter(torch.zeros(1))
    cfg = Config().optim
    opt, sched = build_optimizer(cfg, [p])
    for _ in range(3):
        p.grad = torch.ones(1)
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(lr_at(cfg, 3), rel=1e-12)
