"""The update schedules against updates written out by hand in float64."""

import copy

import torch
from helpers import batches, gan_step
from torch import nn

from gankit.config import OptimConfig
from gankit.core.losses import discriminator_loss, generator_loss_non_saturating
from gankit.core.optim import build_optimizer
from gankit.core.players import Player


class TinyG(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4).double()

    def sample_noise(self, n, generator=None):
        return torch.randn(n, 3, dtype=torch.float64, generator=generator)

    def forward(self, z):
        return torch.sigmoid(self.lin(z))


def _players(lr=0.1):
    torch.manual_seed(0)
    cfg = OptimConfig(lr=lr, lr_decay=1.5)
    g, d = TinyG(), nn.Sequential(nn.Linear(4, 1).double(), nn.Flatten(0))
    return (Player(g, *build_optimizer(cfg, g.parameters())),
            Player(d, *build_optimizer(cfg, d.parameters())))


def test_simultaneous_takes_both_gradients_before_either_update():
    g, d = _players()
    g0, d0 = copy.deepcopy(g.net), copy.deepcopy(d.net)
    real = torch.rand(5, 4, dtype=torch.float64)
    torch.manual_seed(1)
    gan_step("simultaneous", generator_loss_non_saturating)(g, d, batches([real]))
    torch.manual_seed(1)
    fake = g0(g0.sample_noise(5))
    ld = discriminator_loss(d0(real), d0(fake))
    lg = generator_loss_non_saturating(d0(fake))
    gd = torch.autograd.grad(ld, list(d0.parameters()), retain_graph=True)
    gg = torch.autograd.grad(lg, list(g0.parameters()))
    # First momentum step from zero: inc = -lr * grad.
    for p, p0, gr in zip(d.net.parameters(), d0.parameters(), gd, strict=True):
        assert torch.allclose(p, p0 - 0.1 * gr, rtol=1e-12, atol=1e-15)
    for p, p0, gr in zip(g.net.parameters(), g0.parameters(), gg, strict=True):
        assert torch.allclose(p, p0 - 0.1 * gr, rtol=1e-12, atol=1e-15)
    assert g.lr == d.lr == 0.1 / 1.5  # each player's lr decayed once


def test_alternating_takes_k_discriminator_steps_then_one_generator_step():
    g, d = _players()
    g0, d0 = copy.deepcopy(g.net), copy.deepcopy(d.net)
    reals = [torch.rand(5, 4, dtype=torch.float64) for _ in range(3)]
    torch.manual_seed(2)
    gan_step("alternating", generator_loss_non_saturating)(g, d, batches(reals))
    assert d.lr == 0.1 / 1.5**3 and g.lr == 0.1 / 1.5
    # Replay by hand: D moves on each batch with fresh noise; G then sees the moved D.
    torch.manual_seed(2)
    inc = [torch.zeros_like(p) for p in d0.parameters()]
    lr = 0.1
    for real in reals:
        fake = g0(g0.sample_noise(5)).detach()
        grads = torch.autograd.grad(discriminator_loss(d0(real), d0(fake)), list(d0.parameters()))
        with torch.no_grad():
            for p, i, gr in zip(d0.parameters(), inc, grads, strict=True):
                i.mul_(0.5).add_(gr, alpha=-lr)
                p.add_(i)
        lr /= 1.5
    lg = generator_loss_non_saturating(d0(g0(g0.sample_noise(5))))
    gg = torch.autograd.grad(lg, list(g0.parameters()))
    for p, p0 in zip(d.net.parameters(), d0.parameters(), strict=True):
        assert torch.allclose(p, p0, rtol=1e-12, atol=1e-15)
    for p, p0, gr in zip(g.net.parameters(), g0.parameters(), gg, strict=True):
        assert torch.allclose(p, p0 - 0.1 * gr, rtol=1e-12, atol=1e-15)
