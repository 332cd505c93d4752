"""The convolutional nets (DCGAN, the paper's CIFAR-10 conv models) and the generalised MLPs."""

import math

import pytest
import torch
from helpers import batches, gan_step
from torch import nn

from gankit.config import build_config
from gankit.core.losses import generator_loss_non_saturating
from gankit.core.optim import build_optimizer
from gankit.core.players import Player
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.constraints import max_col_norm_
from gankit.nets.dcgan import spatial_plan
from gankit.nets.mlp import MLPGenerator
from gankit.nets.paper_conv import ConvMaxout

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small nets: one thread is faster


def _model(*sets):
    return build_config(sets=list(sets)).model


@pytest.mark.parametrize("size, plan", [(28, (7, 2)), (32, (4, 3)), (48, (3, 4)), (64, (4, 4)),
                                        (8, (4, 1)), (16, (4, 2))])
def test_dcgan_spatial_plan(size, plan):
    assert spatial_plan(size) == plan


@pytest.mark.parametrize("shape, g_channels", [((1, 28, 28), [16, 8]),
                                               ((3, 32, 32), [32, 16, 8]),
                                               ((3, 64, 64), [64, 32, 16, 8])])
def test_dcgan_shapes_widths_and_output_range(shape, g_channels):
    torch.manual_seed(0)
    cfg = _model('model.arch="dcgan"', "model.g_width=8", "model.d_width=4")
    g, d = build_generator(cfg, shape), build_discriminator(cfg, shape)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [*g_channels, shape[0]]
    d_convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in d_convs] == [4 * 2**i for i in range(len(g_channels))] + [1]
    # Batch norm everywhere but D's input layer and the output layers; no bias before a norm.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == len(g_channels)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == len(g_channels) - 1
    assert all(m.bias is None for m in convs[:-1]) and d_convs[0].bias is not None
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in d.modules())
    x = g(g.sample_noise(5))
    assert x.shape == (5, *shape) and x.abs().max() <= 1 and g.output == "tanh"
    assert d(x).shape == (5,)


def test_dcgan_init_is_normal_002():
    torch.manual_seed(0)
    g = build_generator(_model('model.arch="dcgan"'), (3, 64, 64))
    big = g.net[0].weight  # 100 x 512 x 4 x 4: 819k draws
    assert big.mean().item() == pytest.approx(0, abs=1e-3)
    assert big.std().item() == pytest.approx(0.02, rel=0.01)
    bn = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight for m in bn])
    assert scales.mean().item() == pytest.approx(1, abs=0.01)
    assert scales.std().item() == pytest.approx(0.02, rel=0.2)
    assert all((m.bias == 0).all() for m in bn)


def test_dcgan_refuses_sizes_it_cannot_build():
    with pytest.raises(ConfigError, match="3..8 times a power of two"):
        build_generator(_model('model.arch="dcgan"'), (1, 30, 30))
    with pytest.raises(ConfigError, match="square"):
        build_discriminator(_model('model.arch="dcgan"'), (1, 32, 64))


@pytest.mark.parametrize("schedule", ["simultaneous", "alternating"])
def test_schedules_run_d_on_real_and_fake_batches_separately(schedule):
    """Batch norm in D never sees real and fake examples in one batch."""
    torch.manual_seed(0)
    cfg = build_config(sets=['model.arch="dcgan"', "model.g_width=4", "model.d_width=4",
                             'optim.name="adam"', "optim.lr=0.0002", "optim.lr_decay=1"])
    shape = (1, 16, 16)
    players = []
    for net in (build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)):
        players.append(Player(net, *build_optimizer(cfg.optim, net.parameters())))
    g, d = players
    real = torch.rand(6, *shape) * 2 - 1
    seen = []
    d.net.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    gan_step(schedule, generator_loss_non_saturating)(g, d, batches([real]))
    assert [x.shape[0] for x in seen] == [6] * len(seen) and len(seen) >= 2
    assert torch.equal(seen[0], real)  # the real pass holds only real images


def test_paper_conv_models_follow_the_authors_layout():
    torch.manual_seed(0)
    cfg = _model('model.arch="paper_conv"', "model.g_hidden=[32, 8000]")
    g, d = build_generator(cfg, (3, 32, 32)), build_discriminator(cfg, (3, 32, 32))
    assert g.deconv.kernel_size == (5, 5) and g.deconv.stride == (3, 3)
    assert g.deconv.padding == (0, 0) and g.output == "linear"
    assert isinstance(g.body.hidden[1], nn.ReLU) and g.body.output == "sigmoid"
    x = g(g.sample_noise(4))
    assert x.shape == (4, 3, 32, 32) and x.min() < 0  # a linear output: no squashing
    maps = []
    for m in d.modules():
        if isinstance(m, ConvMaxout):
            m.register_forward_hook(lambda mod, args, out: maps.append(tuple(out.shape[1:])))
    assert d(x).shape == (4,)
    assert maps == [(32, 16, 16), (32, 7, 7), (192, 5, 5)]
    maxout = d.net[8]
    assert (maxout.linear.in_features, maxout.units, maxout.pieces) == (192 * 25, 500, 5)
    with pytest.raises(ConfigError, match="8000 hidden units"):
        build_generator(_model('model.arch="paper_conv"', "model.g_hidden=[32, 100]"),
                        (3, 32, 32))


def test_conv_maxout_is_max_over_pieces_then_pool():
    torch.manual_seed(0)
    layer = ConvMaxout(2, units=3, pieces=2, kernel=3, pad=1, pool=2, stride=2)
    x = torch.randn(2, 2, 7, 7)
    y = layer.conv(x)  # 6 channels: unit u owns channels 2u, 2u + 1
    pieces_max = torch.stack([y[:, 2 * u:2 * u + 2].max(1).values for u in range(3)], 1)
    expected = torch.nn.functional.max_pool2d(pieces_max, 2, 2, ceil_mode=True)
    assert expected.shape[-1] == 4  # 7 -> ceil(5 / 2) + 1, as cuda-convnet rounds
    assert torch.equal(layer(x), expected)


def test_mlp_generator_activations_and_outputs():
    torch.manual_seed(0)
    g = MLPGenerator(10, [20, 30], (3, 4, 4), activations=["relu", "sigmoid"], output="linear",
                     pixel_marginals=torch.full((48,), 0.3))
    assert isinstance(g.hidden[1], nn.ReLU) and isinstance(g.hidden[3], nn.Sigmoid)
    assert (g.out.bias == 0).all()  # logit marginals only make sense for a sigmoid output
    z = g.sample_noise(8)
    h = g.hidden(z)
    assert torch.allclose(g(z), g.out(h).view(8, 3, 4, 4))  # linear: no squashing
    assert h.min() >= 0 and h.max() <= 1  # the last hidden layer is sigmoid
    t = MLPGenerator(10, [20], (1, 2, 2), output="tanh")
    assert torch.allclose(t(z), torch.tanh(t.out(t.hidden(z))).view(8, 1, 2, 2))
    with pytest.raises(ConfigError, match="may hold only relu, sigmoid"):
        build_config(sets=['model.g_activations=["relu", "elu"]'])


def test_max_col_norm_projects_like_pylearn2():
    """Rows (units) over the norm are scaled onto the ball before the next forward; others
    stay; the momentum increment is untouched."""
    torch.manual_seed(0)
    lin = nn.Linear(5, 4)
    max_col_norm_(nn.Sequential(lin), 1.0)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4, 0, 0, 0], [0.1, 0, 0, 0, 0],
                                       [0, 0, 2, 0, 0], [0.6, 0.8, 0, 0, 0]]))
    before = lin.weight.detach().clone()
    x = torch.randn(3, 5)
    out1 = lin(x)
    norms = lin.weight.norm(dim=1)
    assert norms[0].item() == pytest.approx(1.0, rel=1e-5)
    assert norms[2].item() == pytest.approx(1.0, rel=1e-5)
    assert torch.equal(lin.weight[1], before[1]) and torch.equal(lin.weight[3], before[3])
    assert torch.allclose(lin.weight[0], before[0] / 5, rtol=1e-5)
    assert torch.allclose(out1, x @ lin.weight.T + lin.bias)
    # A second forward in the same step leaves the weights alone, so backward still works.
    out2 = lin(x)
    (out1.sum() + out2.sum()).backward()
    assert (norms <= 1.0).all()


def test_paper_tfd_discriminator_stays_within_its_norm_while_training():
    torch.manual_seed(0)
    cfg = build_config("paper-tfd", sets=["model.g_hidden=[16, 16]", "model.d_units=[8, 8]"])
    d = build_discriminator(cfg.model, (1, 6, 6))
    opt, _ = build_optimizer(cfg.optim, d.parameters())
    for _ in range(20):
        loss = -d(torch.rand(4, 1, 6, 6)).mean() * 100  # push the weights outward, hard
        opt.zero_grad()
        loss.backward()
        opt.step()
    d(torch.rand(1, 1, 6, 6))
    for m in d.modules():
        if isinstance(m, nn.Linear):
            assert m.weight.norm(dim=1).max().item() <= 1.9365
    assert max(m.weight.norm(dim=1).max().item() for m in d.modules()
               if isinstance(m, nn.Linear)) > 1.9365 * (1 - 1e-5)  # the constraint was active
    assert math.isfinite(loss.item())
