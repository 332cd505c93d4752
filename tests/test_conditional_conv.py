"""The conditional DCGAN (one-hot z input, projection D, AC head) and Age-cGAN on a tanh G."""

import pytest
import torch
import torch.nn.functional as F

from gankit import api
from gankit.agecgan import optimise_latent, train_run_encoder, transfer_images
from gankit.agecgan.latent import render
from gankit.agecgan.transfer import infer_source
from gankit.config import ConditionConfig, ModelConfig, build_config
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.conditional_dcgan import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
)

TINY = ['data.name="digits"', "data.image_size=16", "model.g_width=8", "model.d_width=8",
        "model.noise_dim=8", "train.batch_size=100", "train.log_every=5",
        "train.sample_every=1", "train.checkpoint_every=1", "report.html=false"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(*sets):
    return build_config("cdcgan-mnist", sets=[*TINY, *sets])


def test_generator_shapes_range_and_one_hot_input():
    torch.manual_seed(0)
    g = ConditionalDCGANGenerator(5, 10, (1, 28, 28), width=4).double().eval()
    z = g.sample_noise(6).double()
    y = torch.tensor([0, 1, 2, 3, 8, 9])
    x = g(z, y)
    assert x.shape == (6, 1, 28, 28) and x.abs().max() < 1 and g.output == "tanh"
    assert torch.equal(x, g.body(torch.cat([z, F.one_hot(y, 10).double()], 1)))
    assert not torch.allclose(g(z, torch.zeros(6, dtype=torch.long)), x)


@pytest.mark.parametrize("d_input", ["projection", "concat", "none"])
def test_discriminator_logit_and_class_head_by_hand(d_input):
    torch.manual_seed(0)
    d = ConditionalDCGANDiscriminator((1, 28, 28), 10, width=4, d_input=d_input,
                                      aux=True).double().eval()
    if d.embed is not None:  # as after training: N(0, 0.02) would make the term tiny
        torch.nn.init.normal_(d.embed.weight, 0.0, 1.0)
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64) * 2 - 1
    y, other = torch.tensor([1, 5, 7]), torch.tensor([2, 2, 2])
    planes = F.one_hot(y, 10).double()[:, :, None, None].expand(-1, -1, 28, 28)
    fmap = d.features(torch.cat([x, planes], 1) if d_input == "concat" else x)
    assert fmap.shape == (3, 8, 7, 7)  # width 4 doubled once, 28 = 7 * 2^2
    h = fmap.flatten(1)
    expected = h @ d.out.weight.flatten() + d.out.bias[0]  # the last conv is linear in h
    if d_input == "projection":
        expected = expected + (d.embed.weight[y] * h).sum(1)
    logit, classes = d.heads(x, y)
    assert logit.shape == (3,) and classes.shape == (3, 10)
    assert torch.allclose(logit, expected, atol=1e-10)
    assert torch.allclose(classes, h @ d.aux.weight.T + d.aux.bias, atol=1e-10)
    both = d(x, y, both=True)
    assert torch.equal(both[0], logit) and torch.equal(both[1], classes)
    changes = not torch.allclose(d(x, other), logit)
    assert changes == (d_input != "none")  # D sees y unless AC-GAN as published


def test_builders_pick_the_conditional_conv_models():
    m = ModelConfig(arch="dcgan", g_width=4, d_width=4, noise_dim=7)
    cond = ConditionConfig(classes=10, d_input="projection", aux_weight=1.0)
    g, d = build_generator(m, (1, 28, 28), condition=cond), build_discriminator(m, (1, 28, 28),
                                                                                 cond)
    assert isinstance(g, ConditionalDCGANGenerator) and g.noise_dim == 7 and g.classes == 10
    assert isinstance(d, ConditionalDCGANDiscriminator) and d.aux is not None
    assert build_discriminator(m, (1, 28, 28), ConditionConfig(classes=10)).aux is None
    with pytest.raises(ConfigError, match="cannot generate"):
        build_generator(m, (1, 30, 30), condition=cond)
    with pytest.raises(ConfigError, match="cannot judge"):
        build_discriminator(m, (1, 30, 30), cond)


def test_preset_trains_resumes_bit_exact_and_samples_by_class(tmp_path):
    api.train(config=_config("train.epochs=2"), out=tmp_path / "a", progress=False)
    api.train(config=_config("train.epochs=1"), out=tmp_path / "b", progress=False)
    api.resume(tmp_path / "b", epochs=2, progress=False)
    a, b = api.load_generator(tmp_path / "a"), api.load_generator(tmp_path / "b")
    assert isinstance(a, ConditionalDCGANGenerator)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    threes, fives = api.sample(a, 4, seed=0, labels=[3]), api.sample(a, 4, seed=0, labels=[5])
    assert threes.shape == (4, 1, 16, 16) and not torch.allclose(threes, fives)
    assert torch.equal(threes, api.sample(tmp_path / "a", 4, seed=0, labels=[3]))
    assert (tmp_path / "a" / "samples" / "epoch-0002.png").exists()


def test_latent_optimisation_compares_a_tanh_generator_in_unit_range():
    """x in [0, 1] is reached by G(z*, y) only if G's [-1, 1] images are mapped to [0, 1]."""
    torch.manual_seed(0)
    g = ConditionalDCGANGenerator(4, 10, (1, 16, 16), width=4).eval()
    for m in g.modules():  # larger weights than N(0, 0.02): images that differ with z
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, 0.0, 0.3)
    y = torch.tensor([2, 6, 9])
    z_true = g.sample_noise(3)
    x = render(g, z_true, y)
    assert torch.allclose(x, (g(z_true, y) + 1) / 2) and x.min() >= 0
    z0 = z_true + 0.5 * torch.randn_like(z_true)
    fit = optimise_latent(g, x, y, z0, space="pixel", steps=200, lr=0.05)
    assert (fit.end < 0.1 * fit.start).all(), (fit.start, fit.end)
    assert torch.equal(infer_source(g, x, z_true), y)


def test_age_cgan_pipeline_on_a_conditional_dcgan_run(tmp_path):
    run = tmp_path / "run"
    api.train(config=_config("train.epochs=1", "train.sample_every=0"), out=run,
              progress=False)
    rep = train_run_encoder(run, steps=30, batch_size=16, progress=False)
    assert rep.heldout_loss > 0
    x = torch.rand(2, 1, 16, 16)
    t = transfer_images(run, x, to=[0, 4], source=[1, 1], space="pixel", steps=5)
    assert t.regenerated.shape == (2, 2, 1, 16, 16)
    for images in (t.encoded, t.reconstruction, t.regenerated):
        assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(t.source, torch.tensor([1, 1]))
