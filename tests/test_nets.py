import math

import pytest
import torch

from gankit.config import Config
from gankit.nets import Maxout, build_discriminator, build_generator
from gankit.nets.noise import sample_noise

SHAPE = (1, 28, 28)


def test_generator_shapes_init_and_output_bias():
    torch.manual_seed(0)
    marginals = torch.rand(784) * 0.5
    marginals[0] = 0.0  # clipped to 1e-7 before the logit
    g = build_generator(Config().model, SHAPE, marginals)
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 1200), (1200, 1200),
                                                                  (1200, 784)]
    for m in linears:
        assert m.weight.abs().max() <= 0.05 and m.weight.abs().max() > 0.049
    assert all((m.bias == 0).all() for m in linears[:-1])
    assert torch.allclose(torch.sigmoid(g.out.bias[1:].double()), marginals[1:].double(),
                          atol=1e-6)
    assert g.out.bias[0].item() == pytest.approx(math.log(1e-7 / (1 - 1e-7)), rel=1e-5)
    x = g(sample_noise(7, 100))
    assert x.shape == (7, *SHAPE) and x.min() >= 0 and x.max() <= 1


def test_discriminator_shapes_and_init():
    d = build_discriminator(Config().model, SHAPE)
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.units, m.pieces) for m in maxouts] == [(784, 240, 5),
                                                                            (240, 240, 5)]
    for m in d.modules():
        if isinstance(m, torch.nn.Linear):
            assert m.weight.abs().max() <= 0.005 and (m.bias == 0).all()
    assert d(torch.rand(3, *SHAPE)).shape == (3,)


def test_maxout_takes_the_max_over_contiguous_pieces():
    m = Maxout(4, 3, 2)
    x = torch.randn(5, 4)
    lin = x @ m.linear.weight.T + m.linear.bias
    expected = torch.stack([lin[:, 2 * i:2 * i + 2].max(1).values for i in range(3)], 1)
    assert torch.allclose(m(x), expected)


def test_dropout_keep_rates_scales_and_independent_masks():
    torch.manual_seed(0)
    d = build_discriminator(Config().model, SHAPE).train()
    seen = []
    layers = [m for m in d.modules() if isinstance(m, Maxout)] + [d.net[-1]]
    hooks = [m.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach()))
             for m in layers]
    x = torch.ones(2000, *SHAPE)
    d(x)
    pixels, hidden1, hidden2 = seen
    kept = (pixels != 0).float().mean().item()
    assert kept == pytest.approx(0.8, abs=0.005)  # 1.57M Bernoulli draws: SE 3e-4
    assert torch.allclose(pixels[pixels != 0], torch.tensor(1 / 0.8))
    nz1 = hidden1 != 0
    assert nz1.float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert (hidden2 != 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    seen.clear()
    d(x)
    assert not torch.equal(pixels != 0, seen[0] != 0)  # a fresh mask every pass
    assert not torch.equal(pixels[0] != 0, pixels[1] != 0)  # and per example
    for h in hooks:
        h.remove()
    d.eval()
    assert torch.equal(d(x[:2]), d(x[:2]))  # no dropout in eval mode


def test_uniform_prior_has_unit_variance_and_bounded_support():
    z = sample_noise(200_000, 10, "uniform", generator=torch.Generator().manual_seed(0))
    assert z.abs().max() <= math.sqrt(3)
    assert z.var().item() == pytest.approx(1.0, abs=0.01)
    g = sample_noise(200_000, 10, "gaussian", generator=torch.Generator().manual_seed(0))
    assert g.var().item() == pytest.approx(1.0, abs=0.01) and g.abs().max() > 3
