import math

import pytest
import torch

from gankit.core.losses import (
    discriminator_loss,
    discriminator_loss_smoothed,
    generator_loss_minimax,
    generator_loss_non_saturating,
    loss_pair,
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


def _bce(logit: float, target: float) -> float:
    return -(target * math.log(_d(logit)) + (1 - target) * math.log(1 - _d(logit)))


def test_each_loss_pair_matches_hand_values():
    """real scores [2, -1], fake [0.5, -3], worked by hand from each docstring's formula."""
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731 - softplus
    expected = {  # name: (D loss, G loss)
        "hinge": ((0 + 2) / 2 + (1.5 + 0) / 2, 1.25),
        "lsgan": (0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2, 0.5 * (0.25 + 16) / 2),
        "wgan": (-1.25 - 0.5, 1.25),
        "rpgan": ((sp(-1.5) + sp(-2.0)) / 2, (sp(1.5) + sp(2.0)) / 2),
    }
    for name, (d_loss, g_loss) in expected.items():
        pair = loss_pair(name)
        assert pair.d(real, fake).item() == pytest.approx(d_loss, rel=1e-6), name
        assert pair.g(real, fake).item() == pytest.approx(g_loss, rel=1e-6), name
    assert loss_pair("rpgan").g_needs_real and not loss_pair("hinge").g_needs_real


def test_gan_pair_is_the_papers_and_label_smoothing_moves_the_real_target_only():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    plain = loss_pair("gan")
    assert plain.d is discriminator_loss  # the same function: the old numbers, bit for bit
    assert plain.g(None, fake).item() == generator_loss_non_saturating(fake).item()
    assert loss_pair("gan", "minimax").g(None, fake).item() == generator_loss_minimax(fake).item()
    s = 0.1
    hand = 0.5 * ((_bce(2.0, 1 - s) + _bce(-1.0, 1 - s)) / 2 + (_bce(0.5, 0) + _bce(-3.0, 0)) / 2)
    assert loss_pair("gan", smoothing=s).d(real, fake).item() == pytest.approx(hand, rel=1e-6)
    assert discriminator_loss_smoothed(real, fake, 0.0).item() == pytest.approx(
        discriminator_loss(real, fake).item(), rel=1e-7)
