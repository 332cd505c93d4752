import math

import pytest
import torch

from gankit.core.losses import (
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_non_saturating,
    value_function,
)


def _d(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def test_losses_match_hand_computation():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    log_d_real = [math.log(_d(2.0)), math.log(_d(-1.0))]
    log_1m_d_fake = [math.log(1 - _d(0.5)), math.log(1 - _d(-3.0))]
    v = sum(log_d_real) / 2 + sum(log_1m_d_fake) / 2
    assert value_function(real, fake).item() == pytest.approx(v, rel=1e-6)
    assert discriminator_loss(real, fake).item() == pytest.approx(-v / 2, rel=1e-6)
    assert generator_loss_minimax(fake).item() == pytest.approx(sum(log_1m_d_fake) / 2, rel=1e-6)
    ns = -(math.log(_d(0.5)) + math.log(_d(-3.0))) / 2
    assert generator_loss_non_saturating(fake).item() == pytest.approx(ns, rel=1e-6)


def test_at_the_optimum_d_is_one_half_and_v_is_minus_log_4():
    zeros = torch.zeros(5)
    assert value_function(zeros, zeros).item() == pytest.approx(-math.log(4), rel=1e-7)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(math.log(2), rel=1e-7)


def test_stable_for_extreme_logits():
    extreme = torch.tensor([-200.0, 200.0], requires_grad=True)
    for loss in (value_function(extreme, extreme), discriminator_loss(extreme, extreme),
                 generator_loss_minimax(extreme), generator_loss_non_saturating(extreme)):
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, extreme)
        assert torch.isfinite(grad).all()
    # The two generator losses expect D(G(z)) ~ 0 early in training:
    assert generator_loss_non_saturating(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_minimax_saturates_where_non_saturating_does_not():
    rejected = torch.tensor([-8.0], requires_grad=True)  # D(G(z)) ~ 3e-4
    (g_mm,) = torch.autograd.grad(generator_loss_minimax(rejected), rejected)
    (g_ns,) = torch.autograd.grad(generator_loss_non_saturating(rejected), rejected)
    assert abs(g_mm.item()) < 1e-3 < 0.99 < abs(g_ns.item())
