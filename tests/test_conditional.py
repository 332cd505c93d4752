"""Conditional GANs: the models, the AC-GAN loss, conditional steps and training in the Trainer."""

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers import batches, gan_step, tiny_config
from torch import nn

from gankit import api
from gankit.config import ConditionConfig, ModelConfig, OptimConfig, build_config
from gankit.core.losses import (
    auxiliary_class_loss,
    discriminator_loss,
    generator_loss_non_saturating,
)
from gankit.core.optim import build_optimizer
from gankit.core.players import Player
from gankit.errors import ConfigError, GankitError
from gankit.games import make_trainer
from gankit.nets import build_discriminator, build_generator
from gankit.nets.conditional import ConditionalMaxoutDiscriminator, ConditionalMLPGenerator

COND = ["condition.classes=10"]


def test_auxiliary_class_loss_is_cross_entropy_on_logits_in_float64():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], dtype=torch.float64)
    labels = torch.tensor([2, 1])
    by_hand = -(logits[0, 2] - logits[0].exp().sum().log()
                + logits[1, 1] - logits[1].exp().sum().log()) / 2
    assert torch.allclose(auxiliary_class_loss(logits, labels), by_hand, atol=1e-12)
    # a softmax in front would give another (flatter) value: the known bug is not made here
    assert not torch.allclose(auxiliary_class_loss(logits.softmax(1), labels), by_hand)


def test_generator_concatenates_one_hot_class_to_z():
    torch.manual_seed(0)
    g = ConditionalMLPGenerator(4, 3, [8], (1, 2, 2)).double()
    z = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1, 0])
    expected = g.body(torch.cat([z, F.one_hot(y, 3).double()], 1))
    assert torch.equal(g(z, y), expected)
    assert not torch.allclose(g(z, torch.zeros(5, dtype=torch.long)), expected)


@pytest.mark.parametrize("d_input", ["concat", "projection", "none"])
def test_discriminator_heads_match_a_hand_computation(d_input):
    torch.manual_seed(0)
    d = ConditionalMaxoutDiscriminator((1, 2, 2), 3, [5], pieces=2, init_range=0.5,
                                       d_input=d_input, aux=True).double().eval()
    x = torch.rand(4, 1, 2, 2, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    inp = x.flatten(1)
    if d_input == "concat":
        inp = torch.cat([inp, F.one_hot(y, 3).double()], 1)
    lin = d.hidden[0].linear
    h = (inp @ lin.weight.T + lin.bias).view(4, 5, 2).amax(-1)
    logit = h @ d.out.weight[0] + d.out.bias[0]
    if d_input == "projection":
        logit = logit + (d.embed.weight[y] * h).sum(1)
    got_logit, got_cls = d.heads(x, y)
    assert torch.allclose(got_logit, logit, atol=1e-12)
    assert torch.allclose(got_cls, h @ d.aux.weight.T + d.aux.bias, atol=1e-12)
    assert torch.equal(d(x, y), got_logit)


def test_builders_choose_conditional_models_only_with_classes():
    m = ModelConfig(g_hidden=[8], d_units=[4])
    assert not hasattr(build_generator(m, (1, 8, 8)), "classes")
    cond = ConditionConfig(classes=10, aux_weight=1.0)
    g = build_generator(m, (1, 8, 8), condition=cond)
    d = build_discriminator(m, (1, 8, 8), cond)
    assert g.classes == 10 and d.aux is not None and d.aux.out_features == 10
    assert build_discriminator(m, (1, 8, 8), ConditionConfig(classes=10)).aux is None


def _players(aux: bool):
    torch.manual_seed(0)
    cfg = OptimConfig(lr=0.1, lr_decay=1.5)
    g = ConditionalMLPGenerator(3, 4, [6], (1, 2, 2)).double()
    d = ConditionalMaxoutDiscriminator((1, 2, 2), 4, [5], pieces=2, input_keep=1.0,
                                       hidden_keep=1.0, d_input="projection", aux=aux).double()
    return (Player(g, *build_optimizer(cfg, g.parameters())),
            Player(d, *build_optimizer(cfg, d.parameters())))


def _manual_losses(g, d, real, y_real, weight):
    """The conditional simultaneous step's losses written out (same RNG order as the step)."""
    y_fake = torch.randint(4, y_real.shape)
    fake = g.net(g.net.sample_noise(real.shape[0]), y_fake)
    rl, rc = d.net.heads(real, y_real)
    fl, fc = d.net.heads(fake, y_fake)
    loss_d = 0.5 * (F.softplus(-rl).mean() + F.softplus(fl).mean()) + weight * 0.5 * (
        F.cross_entropy(rc, y_real) + F.cross_entropy(fc, y_fake))
    loss_g = F.softplus(-fl).mean() + weight * F.cross_entropy(fc, y_fake)
    return loss_d, loss_g


def test_conditional_simultaneous_step_matches_hand_written_acgan_losses():
    g, d = _players(aux=True)
    g0, d0 = copy.deepcopy(g), copy.deepcopy(d)
    real = torch.rand(6, 1, 2, 2, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.manual_seed(1)
    gan_step("simultaneous", generator_loss_non_saturating, 0.7)(g, d, batches([real], [y]))
    torch.manual_seed(1)
    loss_d, loss_g = _manual_losses(g0, d0, real, y, 0.7)
    dg = torch.autograd.grad(loss_d, d0.params(), retain_graph=True)
    gg = torch.autograd.grad(loss_g, g0.params())
    for p0, grad, p in zip(d0.params() + g0.params(), dg + gg, d.params() + g.params(),
                           strict=True):
        assert torch.allclose(p, p0 - 0.1 * grad, atol=1e-12)  # first momentum step: -lr g


def test_conditional_alternating_step_runs_k_d_steps_with_labels():
    g, d = _players(aux=False)
    reals = [torch.rand(4, 1, 2, 2, dtype=torch.float64) for _ in range(3)]
    labels = [torch.randint(4, (4,)) for _ in range(3)]
    step = gan_step("alternating", generator_loss_non_saturating, 0.0)
    stats = step(g, d, batches(reals, labels))
    assert d.opt.state_dict()["state"] and int(d.lr_schedule.last_epoch) == 3
    assert int(g.lr_schedule.last_epoch) == 1 and torch.isfinite(stats.d_loss)
    # the D loss it reports is the plain GAN loss of its last batch (no class head here)
    assert float(stats.d_loss) > 0 and float(discriminator_loss(torch.zeros(1),
                                                                torch.zeros(1))) > 0


@pytest.mark.parametrize("sets, message", [
    (["condition.aux_weight=1.0"], "needs condition.classes"),
    ([*COND, "condition.d_input='none'"], "hides the class"),
    (["condition.classes=5"], "must exceed the largest"),
])
def test_bad_condition_settings_are_refused_before_training(tmp_path, sets, message):
    with pytest.raises(ConfigError, match=message):
        make_trainer(tiny_config(*sets), tmp_path, progress=False)


def test_condition_values_are_validated():
    with pytest.raises(ConfigError, match="is not one of"):
        build_config("paper-digits", sets=["condition.d_input='sideways'"])
    with pytest.raises(ConfigError, match="out of range"):
        build_config("paper-digits", sets=["condition.aux_weight=-1"])


def test_conditional_training_resumes_bit_identical_and_draws_classes(tmp_path):
    cfg = tiny_config("train.epochs=2", *COND, "condition.aux_weight=0.5",
                      "condition.d_input='projection'")
    api.train(config=cfg, out=tmp_path / "whole", progress=False)
    api.train(config=tiny_config("train.epochs=1", *COND, "condition.aux_weight=0.5",
                                 "condition.d_input='projection'"),
              out=tmp_path / "split", progress=False)
    api.resume(tmp_path / "split", epochs=2, progress=False)
    a, b = api.load_generator(tmp_path / "whole"), api.load_generator(tmp_path / "split")
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    x = api.sample(tmp_path / "whole", 20, seed=0)
    assert x.shape == (20, 1, 8, 8)
    same_z = api.sample(a, 3, seed=0, labels=[4])
    assert not torch.equal(same_z, api.sample(a, 3, seed=0, labels=[5]))
    with pytest.raises(GankitError, match="class labels in 0..9"):
        api.sample(a, 3, labels=[10])
    assert (tmp_path / "whole" / "samples" / "epoch-0002.png").exists()


def test_unconditional_generator_refuses_labels(tmp_path):
    g = build_generator(ModelConfig(g_hidden=[8], noise_dim=4), (1, 8, 8))
    with pytest.raises(GankitError, match="unconditional"):
        api.sample(g, 2, labels=[1])


def test_acgan_training_makes_samples_of_the_asked_class(tmp_path):
    """A few epochs on the 8x8 digits: a classifier fit on real digits recognises the samples."""
    from sklearn.linear_model import LogisticRegression

    from gankit.data import load_dataset

    data = load_dataset("digits", "train")
    clf = LogisticRegression(max_iter=1000).fit(data.flat().numpy(), data.labels.numpy())

    def accuracy(g: nn.Module) -> float:
        x = api.sample(g, 500, seed=0)
        pred = torch.from_numpy(clf.predict(x.reshape(500, -1).numpy()))
        return float((pred == torch.arange(500) % 10).float().mean())

    cfg = tiny_config("train.epochs=8", *COND, "condition.aux_weight=1.0", "optim.name='adam'",
                      "optim.lr=0.002", "optim.lr_decay=1.0", "train.sample_every=0")
    untrained = build_generator(cfg.model, data.shape, data.pixel_mean(), cfg.condition)
    api.train(config=cfg, out=tmp_path / "run", progress=False)
    before, after = accuracy(untrained), accuracy(api.load_generator(tmp_path / "run"))
    assert before < 0.15 and after > 0.2, (before, after)  # chance: 0.1
