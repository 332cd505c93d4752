"""D's regularisers, packing, minibatch std, spectral norm and per-player optimisers against hand
computations and float64 references; the refusals of what does not combine."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_resume_is_bit_identical, assert_spectral_norm_holds, tiny_config, weights
from torch import nn

from gankit import rng
from gankit.config import ConditionConfig, ModelConfig, OptimConfig, build_config, validate
from gankit.core.game import Batch
from gankit.core.losses import discriminator_loss, generator_loss_non_saturating
from gankit.core.objective import Fakes, GanObjective
from gankit.core.optim import build_optimizer, lr_at
from gankit.core.penalties import Regularisers
from gankit.core.players import Player
from gankit.core.schedules import SimultaneousStep
from gankit.errors import ConfigError
from gankit.games import build_game, make_trainer
from gankit.nets.stabilise import MinibatchStd, Packed, build_stabilised_discriminator

D64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Linear(nn.Module):
    """D(x) = w . x + b: grad_x D = w for every x."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(0.3, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1) @ self.w + self.b


class Quadratic(nn.Module):
    """D(x) = c/2 ||x||^2: grad_x D = c x."""

    def __init__(self, c: float = 1.5) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=D64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c / 2 * x.reshape(x.shape[0], -1).pow(2).sum(1)


def _player(net: nn.Module) -> Player:
    return Player(net, *build_optimizer(OptimConfig(), net.parameters(), "d"))


def _d_loss(d: Player, reg: Regularisers, real: torch.Tensor, fake: torch.Tensor):
    obj = GanObjective(generator_loss_non_saturating, reg=reg)
    terms = obj.d_loss(d, Batch(real, None), Fakes(fake, None))
    return terms, terms.loss - discriminator_loss(terms.real_logits, terms.fake_logits)


def test_r1_on_a_linear_d_is_gamma_half_w_squared_lazily_times_every():
    w = torch.tensor([0.5, -2.0, 1.0], dtype=D64)
    d = _player(Linear(w))
    real, fake = torch.randn(6, 3, dtype=D64), torch.randn(6, 3, dtype=D64)
    terms, extra = _d_loss(d, Regularisers(r1=0.8, every=4), real, fake)
    assert extra.item() == pytest.approx(4 * 0.8 / 2 * 5.25, rel=1e-12)  # ||w||^2 = 5.25
    # the penalty's gradient reaches D's weights: d/dw (N gamma/2 ||w||^2) = N gamma w
    d.backward(terms.loss)
    w0 = w.clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(discriminator_loss(real @ w0 + 0.3, fake @ w0 + 0.3), w0)
    assert torch.allclose(d.net.w.grad, g_ref + 4 * 0.8 * w, rtol=1e-12, atol=1e-12)
    d.step()  # D's update 1 of every 4: no penalty, nothing added
    _, extra = _d_loss(d, Regularisers(r1=0.8, every=4), real, fake)
    assert extra.item() == 0


def test_r1_and_r2_on_a_quadratic_d_are_per_example_norms():
    d = _player(Quadratic(1.5))
    real, fake = torch.randn(5, 2, 2, dtype=D64), torch.randn(5, 2, 2, dtype=D64)
    norms = lambda x: (1.5 * x).reshape(5, -1).pow(2).sum(1).mean()  # noqa: E731
    _, r1 = _d_loss(d, Regularisers(r1=2.0), real, fake)
    assert r1.item() == pytest.approx(norms(real).item(), rel=1e-12)
    # R2 at fakes that carry G's graph (simultaneous step) and at detached ones (alternating)
    scale = torch.tensor(1.0, dtype=D64, requires_grad=True)
    for fakes in (fake * scale, fake):
        _, r2 = _d_loss(d, Regularisers(r2=2.0), real, fakes)
        assert r2.item() == pytest.approx(norms(fake).item(), rel=1e-12)


def test_gp_on_interpolates_drawn_from_the_shared_stream():
    w = torch.tensor([3.0, 4.0], dtype=D64)  # ||grad|| = 5 everywhere
    real, fake = torch.randn(4, 2, dtype=D64), torch.randn(4, 2, dtype=D64)
    with rng.shared_stream(torch.Generator().manual_seed(0)):
        _, gp = _d_loss(_player(Linear(w)), Regularisers(gp=10.0), real, fake)
    assert gp.item() == pytest.approx(10 * (5 - 1) ** 2, rel=1e-12)
    # D = ||x||^2 / 2: grad = x_hat, so the penalty reads the interpolation coefficients
    with rng.shared_stream(torch.Generator().manual_seed(7)):
        _, gp = _d_loss(_player(Quadratic(1.0)), Regularisers(gp=10.0), real, fake)
    e = torch.rand((4, 1), generator=torch.Generator().manual_seed(7)).to(D64)
    x_hat = e * real + (1 - e) * fake
    assert gp.item() == pytest.approx(10 * ((x_hat.norm(dim=1) - 1) ** 2).mean().item(),
                                      rel=1e-9)


class ClassLinear(nn.Module):
    """A conditional D(x, y) = w_y . x: grad_x D = w_y, a norm per class."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor, y: torch.Tensor, both: bool = False):
        out = (x.reshape(x.shape[0], -1) * self.w[y]).sum(1)
        return (out, None) if both else out


def test_conditional_gp_judges_interpolates_with_the_real_classes():
    w = torch.tensor([[3.0, 4.0], [5.0, 12.0]], dtype=D64)  # ||w_0|| = 5, ||w_1|| = 13
    real, fake = torch.randn(4, 2, dtype=D64), torch.randn(4, 2, dtype=D64)
    real_y, fake_y = torch.tensor([0, 1, 1, 1]), torch.tensor([1, 0, 0, 0])
    obj = GanObjective(generator_loss_non_saturating, reg=Regularisers(gp=10.0))
    terms = obj.d_loss(_player(ClassLinear(w)), Batch(real, real_y), Fakes(fake, fake_y))
    gp = terms.loss - discriminator_loss(terms.real_logits, terms.fake_logits)
    assert gp.item() == pytest.approx(10 * ((5 - 1) ** 2 + 3 * (13 - 1) ** 2) / 4, rel=1e-12)


def test_a_conditional_run_with_lazy_gp_and_minibatch_std_resumes_bit_identical(tmp_path):
    sets = ["condition.classes=10", "reg.gp=10.0", "reg.every=2", "model.d_minibatch_std=4",
            "condition.aux_weight=0.5", "train.batch_size=200",
            "train.epochs=2", "train.sample_every=0"]
    assert_resume_is_bit_identical(tmp_path, sets)
    from gankit.api import train

    train(config=tiny_config(*sets, "reg.gp=0.0"), out=tmp_path / "no-gp", progress=False)
    with_gp, _ = weights(tmp_path / "whole")
    without, _ = weights(tmp_path / "no-gp")
    assert all(torch.isfinite(v).all() for v in with_gp.values())
    assert any(not torch.equal(with_gp[k], without[k]) for k in with_gp if k.startswith("D/"))


def test_instance_noise_is_drawn_from_the_stream_real_then_fake():
    seen = []
    d = _player(Linear(torch.ones(2)))
    d.net.forward = lambda x: seen.append(x) or x.sum(1)
    real, fake = torch.zeros(3, 2), torch.ones(3, 2)
    with rng.shared_stream(torch.Generator().manual_seed(3)):
        _d_loss(d, Regularisers(noise=0.1), real, fake)
    gen = torch.Generator().manual_seed(3)
    n_real, n_fake = torch.randn((3, 2), generator=gen), torch.randn((3, 2), generator=gen)
    assert torch.equal(seen[0], real + 0.1 * n_real)
    assert torch.equal(seen[1], fake + 0.1 * n_fake)


def test_packing_groups_consecutive_examples_along_channels():
    seen = []
    inner = nn.Module()
    inner.forward = lambda x: seen.append(x) or x.reshape(x.shape[0], -1).sum(1)
    x = torch.arange(6 * 2 * 3 * 3, dtype=torch.float32).reshape(6, 2, 3, 3)
    out = Packed(inner, 3)(x)
    assert out.shape == (2,) and seen[0].shape == (2, 6, 3, 3)
    assert torch.equal(seen[0][1], torch.cat([x[3], x[4], x[5]], dim=0))
    with pytest.raises(ValueError, match="does not split into tuples of 3"):
        Packed(inner, 3)(x[:4])
    # the MLP D judging 4-tuples of 8x8 digits: 4 * 64 inputs, one logit a tuple; real tuples
    # hold reals only, so D's loss is BCE(tuple, 1) on them and BCE(tuple, 0) on fake tuples
    torch.manual_seed(0)
    d = build_stabilised_discriminator(ModelConfig(d_units=[8, 8]), (1, 8, 8), None, pack=4)
    assert d.inner.net[1].linear.in_features == 4 * 64
    real, fake = torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8)
    terms, extra = _d_loss(_player(d), Regularisers(), real, fake)
    assert terms.real_logits.shape == terms.fake_logits.shape == (2,) and extra.item() == 0


def test_r1_with_packing_sums_the_squared_gradient_over_the_tuple():
    d = _player(Packed(Quadratic(1.0), 2))
    real, fake = torch.randn(4, 3, dtype=D64), torch.randn(4, 3, dtype=D64)
    _, r1 = _d_loss(d, Regularisers(r1=2.0), real, fake)
    per_tuple = real.pow(2).sum(1).reshape(2, 2).sum(1)
    assert r1.item() == pytest.approx(per_tuple.mean().item(), rel=1e-12)


def test_minibatch_std_feature_by_hand():
    x = torch.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 3.0, 1.0]])
    out = MinibatchStd(2)(x)
    # group 1: feature stds 1, 0, 1 -> 2/3; group 2: 0, 1, 0 -> 1/3 (sqrt(var + 1e-8))
    assert out.shape == (4, 4) and torch.equal(out[:, :3], x)
    assert torch.allclose(out[:, 3], torch.tensor([2 / 3, 2 / 3, 1 / 3, 1 / 3]), atol=1e-4)
    img = torch.randn(4, 2, 3, 3)
    out = MinibatchStd(4)(img)
    std = img.double().var(0, unbiased=False).add(1e-8).sqrt().mean().item()
    assert out.shape == (4, 3, 3, 3)
    assert torch.allclose(out[:, 2].double(), torch.full((4, 3, 3), std, dtype=D64), atol=1e-6)


@pytest.mark.parametrize("arch, shape", [("toy", (2,)), ("mlp", (1, 8, 8)),
                                         ("dcgan", (1, 16, 16))])
def test_minibatch_std_joins_before_the_last_layer_and_starts_as_the_same_d(arch, shape):
    cfg = ModelConfig(arch=arch, d_units=[8, 8], d_width=4)
    torch.manual_seed(1)
    plain = build_stabilised_discriminator(cfg, shape, None)
    torch.manual_seed(1)
    with_std = build_stabilised_discriminator(ModelConfig(**{**vars(cfg), "d_minibatch_std": 2}),
                                              shape, None)
    assert isinstance(with_std.net[-1][0], MinibatchStd)
    plain.eval(), with_std.eval()
    x = torch.randn(4, *shape)
    assert torch.allclose(plain(x), with_std(x), atol=1e-6)
    with_std(x).sum().backward()
    assert with_std.net[-1][1].weight.grad[:, -1].abs().sum() > 0  # the feature is learnt


@pytest.mark.parametrize("arch, d_input", [("mlp", "projection"), ("mlp", "concat"),
                                            ("dcgan", "projection"), ("dcgan", "concat")])
def test_conditional_minibatch_std_joins_the_adversarial_head_only(arch, d_input):
    """A conditional D (with an AC-GAN head) starts as the same function; the std feature moves
    the adversarial logit once its weight is learnt, never the class logits."""
    cfg = ModelConfig(arch=arch, d_units=[8, 8], d_width=4)
    cond = ConditionConfig(classes=3, d_input=d_input, aux_weight=1.0)
    torch.manual_seed(1)
    plain = build_stabilised_discriminator(cfg, (1, 16, 16), cond)
    torch.manual_seed(1)
    with_std = build_stabilised_discriminator(ModelConfig(**{**vars(cfg), "d_minibatch_std": 2}),
                                              (1, 16, 16), cond)
    assert isinstance(with_std.out[0], MinibatchStd)
    plain.eval(), with_std.eval()
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 1])
    (a, a_cls), (b, b_cls) = plain.heads(x, y), with_std.heads(x, y)
    assert torch.allclose(a, b, atol=1e-6) and torch.equal(a_cls, b_cls)
    b.sum().backward()
    assert with_std.out[1].weight.grad.flatten(1)[:, -1].abs().sum() > 0
    with torch.no_grad():
        with_std.out[1].weight.flatten(1)[:, -1] += 1.0
    spread = torch.cat([x[:2], 3 * x[2:]])  # the second pair varies more
    with torch.no_grad():
        c, c_cls = with_std.heads(spread, y)
        d, d_cls = plain.heads(spread, y)
    shift = (c - d).tolist()  # the std feature's contribution: one value per group of 2
    assert torch.equal(c_cls, d_cls)
    assert shift[0] == pytest.approx(shift[1]) and shift[2] == pytest.approx(shift[3])
    assert shift[2] > shift[0] > 0


@pytest.mark.parametrize("arch, shape", [("toy", (2,)), ("dcgan", (1, 16, 16))])
def test_spectral_norm_top_singular_value_is_one(arch, shape):
    torch.manual_seed(0)
    d = build_stabilised_discriminator(ModelConfig(arch=arch, d_units=[16, 16], d_width=4,
                                                   d_spectral_norm=True), shape, None)
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(layers) >= 3 and d(torch.randn(4, *shape)).shape == (4,)
    assert_spectral_norm_holds(layers)


def test_ttur_learning_rates_and_betas_per_player(tmp_path):
    cfg = tiny_config("optim.name='adam'", "optim.lr=0.001", "optim.lr_decay=1.5",
                      "optim.lr_min=0.0", "optim.g_lr=0.0001", "optim.d_lr=0.0004",
                      "optim.d_beta1=0.0", "optim.g_beta2=0.99")
    trainer = make_trainer(cfg, tmp_path, progress=False)
    g, d = trainer.g.opt.param_groups[0], trainer.d.opt.param_groups[0]
    assert (g["lr"], g["betas"]) == (0.0001, (0.5, 0.99))
    assert (d["lr"], d["betas"]) == (0.0004, (0.0, 0.999))
    opt, sched = build_optimizer(cfg.optim, [nn.Parameter(torch.zeros(1))], "d")
    for _ in range(3):
        opt.step(), sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0004 / 1.5**3, rel=1e-12)
    assert lr_at(cfg.optim, 3, "d") == pytest.approx(0.0004 / 1.5**3, rel=1e-12)
    shared, _ = build_optimizer(OptimConfig(), [nn.Parameter(torch.zeros(1))], "g")
    assert shared.param_groups[0]["lr"] == OptimConfig().lr  # g_lr = 0: the shared lr


def test_ttur_under_the_fused_step_matches_autograd(tmp_path):
    """The fused step reads each player's own learning rate from its optimiser."""
    from gankit.api import train
    from gankit.io import checkpoint as ckpt

    weights = []
    for step in ("fused", "autograd"):
        run = train(config=tiny_config("optim.d_lr=0.03", "train.max_steps=6", "train.epochs=1",
                                       f"speed.step='{step}'"), out=tmp_path / step,
                    progress=False)
        tensors, state = ckpt.read_checkpoint(run.checkpoint)
        assert state["lr_D"]["base_lrs"] == [0.03] and state["lr_G"]["base_lrs"] == [0.1]
        weights.append({k: v for k, v in tensors.items() if k[:2] in ("G/", "D/")})
    a, b = weights
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_any_piece_sends_auto_to_the_autograd_step(tmp_path):
    trainer = make_trainer(tiny_config("game.loss='hinge'"), tmp_path, progress=False)
    assert isinstance(trainer.step_fn, SimultaneousStep)


REFUSED = [
    (["game.loss='hinge'", "game.g_loss='minimax'"],
     "game.g_loss = 'minimax' applies to game.loss = 'gan' only"),
    (["game.loss='wgan'", "reg.label_smoothing=0.1"], "reg.label_smoothing smooths"),
    (["game.pack=3"], "train.batch_size = 50 must be divisible by game.pack = 3"),
    (["game.pack=5", "model.d_minibatch_std=4"], "model.d_minibatch_std = 4 must divide the 10"),
    (["condition.classes=10", "game.pack=2"], "game.pack is not supported with condition"),
    (["condition.classes=10", "model.d_minibatch_std=3"], "model.d_minibatch_std = 3 must divide"),
    (["speed.compile=true", "reg.r1=1.0"], "which speed.compile does not"),
    (["model.d_spectral_norm=true", "model.d_max_col_norm=1.0"], "keep one"),
    (["optim.d_beta1=-0.5"], r"optim.d_beta1 = -0.5 must be -1 \(the shared value\)"),
    (["optim.g_lr=1e-7"], "optim.lr_min = 1e-06 exceeds optim.g_lr"),
]


@pytest.mark.parametrize("sets, message", REFUSED)
def test_contradictions_are_refused_in_one_line(sets, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate(tiny_config(*sets))
    assert "\n" not in str(err.value)


def test_fused_step_and_discogan_refuse_the_pieces(tmp_path):
    with pytest.raises(ConfigError, match="speed.step = 'fused' implements the paper's game "
                       "only, without game.loss, reg.r1; use") as err:
        make_trainer(tiny_config("speed.step='fused'", "game.loss='lsgan'", "reg.r1=1.0"),
                     tmp_path, progress=False)
    assert "\n" not in str(err.value)
    cfg = build_config("discogan-toy", sets=["game.pack=2", "train.batch_size=100"])
    with pytest.raises(ConfigError, match="game.pack is not supported by DiscoGAN: D_A and "):
        build_game(cfg, torch.device("cpu"))


def test_default_config_turns_nothing_on():
    from gankit.stabilisers import stabilisers_on

    assert stabilisers_on(build_config()) == []
    assert stabilisers_on(tiny_config("reg.every=4")) == []
    assert math.isclose(build_config().optim.player("d")[0], 0.1)

