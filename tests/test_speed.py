"""The fast update paths against the plain autograd step: same mathematics within tolerance."""

import copy
import dataclasses
import os

import pytest
import torch
import torch.nn.functional as F

from gankit.config import ConditionConfig, ModelConfig, OptimConfig, build_config
from gankit.core.fused import FusedSimultaneousStep, supports
from gankit.core.game import Batch
from gankit.core.losses import (
    GENERATOR_LOSSES,
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_non_saturating,
)
from gankit.core.objective import GanObjective
from gankit.core.optim import build_optimizer, set_momentum
from gankit.core.players import Player
from gankit.core.schedules import AlternatingStep, SimultaneousStep
from gankit.core.step import (
    AutocastStep,
    CompiledStep,
    build_step,
    flushing_subnormals,
    subnormals_flushed,
)
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.dropout import Dropout
from gankit.rng import shared_stream

SHAPE = (1, 4, 4)
PLAIN = GanObjective(generator_loss_non_saturating)  # the paper's game, no class term


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _pair(keep=(0.8, 0.5), optim="momentum", seed=0, classes=0):
    torch.manual_seed(seed)
    mcfg = ModelConfig(noise_dim=5, g_hidden=[7, 6], d_units=[4, 3], d_pieces=3,
                       d_input_keep=keep[0], d_hidden_keep=keep[1],
                       g_init_range=0.5, d_init_range=0.5)
    ocfg = OptimConfig(name=optim, lr=0.1, lr_decay=1.5)
    condition = ConditionConfig(classes=classes)
    g = build_generator(mcfg, SHAPE, torch.rand(16), condition)
    d = build_discriminator(mcfg, SHAPE, condition)
    return (Player(g, *build_optimizer(ocfg, g.parameters())),
            Player(d, *build_optimizer(ocfg, d.parameters())))


def _same(a, b, tol):
    for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.allclose(p, q, rtol=tol, atol=tol), (p - q).abs().max()


@pytest.mark.parametrize("optim", ["momentum", "adam"])
@pytest.mark.parametrize("g_loss", ["non_saturating", "minimax"])
def test_fused_step_equals_autograd_step_without_dropout(float64, optim, g_loss):
    """keep = 1: no random masks, so both paths see the same noise and must agree."""
    g1, d1 = _pair(keep=(1.0, 1.0), optim=optim)
    g2, d2 = _pair(keep=(1.0, 1.0), optim=optim)
    loss = GENERATOR_LOSSES[g_loss]
    objective = GanObjective(loss)
    autograd, fused = SimultaneousStep(objective), FusedSimultaneousStep(objective)
    assert supports(g2.net, d2.net, objective)
    reals = torch.rand(3, 8, *SHAPE)
    for step, real in enumerate(reals):
        torch.manual_seed(100 + step)
        a = autograd(g1, d1, [Batch(real)])
        torch.manual_seed(100 + step)
        b = fused(g2, d2, [Batch(real)])
        for x, y in zip(a, b, strict=True):
            assert torch.allclose(x, y, rtol=1e-12, atol=1e-14)
    _same(g1, g2, 1e-11)
    _same(d1, d2, 1e-11)
    assert g1.lr == g2.lr and d1.lr == d2.lr


def test_fused_step_with_dropout_equals_autograd_with_the_same_masks(float64):
    """Replays the fused step's random draws, then differentiates with autograd."""
    g, d = _pair()
    g0, d0 = copy.deepcopy(g.net), copy.deepcopy(d.net)
    n, real = 6, torch.rand(6, *SHAPE)
    torch.manual_seed(7)
    FusedSimultaneousStep(PLAIN)(g, d, [Batch(real)])
    torch.manual_seed(7)
    z = g0.sample_noise(n)
    # The autograd step's order: every layer's mask for the real pass, then for the fake pass.
    draws = [[torch.rand(n, w) for w in (16, 4, 3)] for _ in range(2)]
    masks = [torch.cat([r, f]).lt_(k).div_(k)
             for r, f, k in zip(*draws, (0.8, 0.5, 0.5), strict=True)]
    fake = g0(z).reshape(n, -1)
    h = torch.cat([real.reshape(n, -1), fake])
    layers = [m for m in d0.net if not isinstance(m, Dropout)]
    for mask, layer in zip(masks, layers, strict=True):
        h = layer(h * mask)
    logits = h.squeeze(1)
    loss_d = discriminator_loss(logits[:n], logits[n:])
    loss_g = generator_loss_non_saturating(logits[n:])
    gd = torch.autograd.grad(loss_d, list(d0.parameters()), retain_graph=True)
    gg = torch.autograd.grad(loss_g, list(g0.parameters()))
    for net, net0, grads in ((d.net, d0, gd), (g.net, g0, gg)):
        for p, p0, gr in zip(net.parameters(), net0.parameters(), grads, strict=True):
            assert gr.abs().max() > 0
            assert torch.allclose(p, p0 - 0.1 * gr, rtol=1e-12, atol=1e-14)


def _lockstep(pairs, reals, g_loss, tol):
    """Run the autograd and the fused step side by side, each from its own copy of one shared
    stream (same noise, same dropout masks); parameters must agree after every step."""
    (g1, d1), (g2, d2) = pairs
    streams = [torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)]
    objective = GanObjective(g_loss)
    autograd, fused = SimultaneousStep(objective), FusedSimultaneousStep(objective)
    for step, real in enumerate(reals):
        with shared_stream(streams[0]):
            a = autograd(g1, d1, [Batch(real)])
        with shared_stream(streams[1]):
            b = fused(g2, d2, [Batch(real)])
        for x, y in zip(a, b, strict=True):
            assert torch.allclose(x, y, rtol=tol, atol=tol), step
        for p, q in zip((*g1.net.parameters(), *d1.net.parameters()),
                        (*g2.net.parameters(), *d2.net.parameters()), strict=True):
            assert torch.allclose(p, q, rtol=tol, atol=tol), (step, (p - q).abs().max())
        assert g1.lr == g2.lr and d1.lr == d2.lr
    assert torch.equal(streams[0].get_state(), streams[1].get_state())  # drew the same numbers


@pytest.mark.parametrize("g_loss", ["non_saturating", "minimax"])
def test_fused_step_follows_the_autograd_step_for_100_steps_with_dropout(float64, g_loss):
    """The same update, step after step: same draws in the same order, same lr/momentum."""
    pairs = [_pair(), _pair()]
    for g, _ in pairs:
        set_momentum(g.opt, 0.7)  # a mid-run momentum, as the trainer sets it per epoch
    torch.manual_seed(1)
    _lockstep(pairs, torch.rand(100, 6, *SHAPE), GENERATOR_LOSSES[g_loss], 1e-10)


def test_fused_step_follows_the_autograd_step_on_the_paper_mnist_model(float64, mnist_root):
    """The paper's MNIST model and optimiser (pixel-marginal bias, maxout 240x5, dropout 0.8 /
    0.5, lr decay) on real digits, 20 steps of batch 10."""
    cfg = build_config("paper-mnist")
    images = load_dataset("mnist", "train", mnist_root).images[:200].double()
    pairs = []
    for _ in range(2):
        torch.manual_seed(0)
        g = build_generator(cfg.model, images.shape[1:], images.reshape(200, -1).mean(0))
        d = build_discriminator(cfg.model, images.shape[1:])
        pairs.append((Player(g, *build_optimizer(cfg.optim, g.parameters())),
                      Player(d, *build_optimizer(cfg.optim, d.parameters()))))
    assert supports(pairs[1][0].net, pairs[1][1].net, PLAIN)
    _lockstep(pairs, images.reshape(20, 10, *images.shape[1:]), generator_loss_non_saturating,
              1e-9)


def test_fused_step_in_float32_stays_within_rounding_of_float64():
    """The tolerance stated for float32 runs: parameters agree to 1e-5 relative after 5 steps."""
    g1, d1 = _pair(keep=(1.0, 1.0))
    g2, d2 = _pair(keep=(1.0, 1.0))  # the same init (a deepcopy would unwrap the lr schedule)
    for p in (g2, d2):
        p.net.double()
    objective = GanObjective(generator_loss_minimax)
    fused32, fused64 = FusedSimultaneousStep(objective), FusedSimultaneousStep(objective)
    for _ in range(5):
        real = torch.rand(8, *SHAPE)
        z = g1.net.sample_noise(8)
        g1.net.sample_noise = lambda n, generator=None, z=z: z
        g2.net.sample_noise = lambda n, generator=None, z=z: z.double()
        fused32(g1, d1, [Batch(real)])
        fused64(g2, d2, [Batch(real.double())])
    for a, b in ((g1, g2), (d1, d2)):
        for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True):
            assert torch.allclose(p.double(), q, rtol=1e-5, atol=1e-6)


def test_unsupported_models_are_reported():
    g, d = _pair()
    assert not supports(g.net, torch.nn.Linear(16, 1), PLAIN)
    assert not supports(g.net, d.net, GanObjective(lambda logits: F.softplus(-logits).mean()))
    d.net.net[0] = torch.nn.Dropout(0.2)  # masks not from gankit.rng: not the fused step's D
    assert not supports(g.net, d.net, PLAIN)
    # The paper's TFD and CIFAR-10 variants: sigmoid hidden units, linear output, max-norm D.
    mcfg = ModelConfig(noise_dim=5, g_hidden=[7, 6], d_units=[4, 3], d_pieces=3)
    fine = (build_generator(mcfg, SHAPE), build_discriminator(mcfg, SHAPE))
    assert supports(*fine, PLAIN)
    for changed in (["g_activations=['relu', 'sigmoid']"], ["g_output='linear'"],
                    ["d_max_col_norm=1.9"]):
        cfg = build_config("paper-digits", sets=[f"model.{c}" for c in changed]).model
        cfg.noise_dim, cfg.g_hidden, cfg.d_units = 5, [7, 6], [4, 3]
        pair = (build_generator(cfg, SHAPE), build_discriminator(cfg, SHAPE))
        assert not supports(*pair, PLAIN), changed


def test_fused_step_draws_from_the_shared_stream():
    """Noise and masks come from gankit.rng: the stream decides them, torch's global RNG not."""
    results = []
    for global_seed in (1, 2):
        g, d = _pair()
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        stream = torch.Generator().manual_seed(5)
        with shared_stream(stream):
            FusedSimultaneousStep(PLAIN)(g, d, [Batch(torch.full((6, *SHAPE), 0.5))])
        assert torch.equal(torch.get_rng_state(), before)
        results.append([p.clone() for p in (*g.net.parameters(), *d.net.parameters())])
    for p, q in zip(*results, strict=True):
        assert torch.equal(p, q)


def _config(*sets):
    return build_config("paper-digits", sets=list(sets))


def _run(step, g, d, steps=3, seed=0):
    torch.manual_seed(seed)
    reals = torch.rand(steps, 8, *SHAPE)
    for i, real in enumerate(reals):
        torch.manual_seed(seed + i)
        step(g, d, [Batch(real)])


def test_build_step_picks_fused_when_it_can_and_refuses_impossible_requests():
    g, d = _pair()
    assert isinstance(build_step(_config("speed.step='auto'"), PLAIN, g, d),
                      FusedSimultaneousStep)
    assert type(build_step(_config("speed.step='autograd'"), PLAIN, g, d)) is SimultaneousStep
    alt = _config("game.schedule='alternating'")
    assert type(build_step(alt, PLAIN, g, d)) is AlternatingStep
    with pytest.raises(ConfigError, match="fused"):
        build_step(_config("game.schedule='alternating'", "speed.step='fused'"), PLAIN, g, d)
    with pytest.raises(ConfigError, match="autocast"):
        build_step(_config("speed.step='fused'", "speed.autocast='bf16'"), PLAIN, g, d)
    # Data-parallel runs: 'auto' takes main's autograd step, 'fused' refuses.
    auto = _config("speed.step='auto'")
    assert type(build_step(auto, PLAIN, g, d, distributed=True)) is SimultaneousStep
    with pytest.raises(ConfigError, match="one process"):
        build_step(_config("speed.step='fused'"), PLAIN, g, d, distributed=True)
    # Conditional runs: the fused step hands a minibatch with class labels to the autograd
    # step, and the conditional models are not the fused step's to run.
    cond = _config("speed.step='auto'", "condition.classes=10")
    step = build_step(cond, PLAIN, g, d)
    assert type(step.autograd) is SimultaneousStep and step.autograd.objective is PLAIN
    seen = []
    step.autograd = lambda g_, d_, batches: seen.append(batches) or "autograd"
    labelled = [Batch(torch.rand(8, *SHAPE), torch.randint(10, (8,)))]
    assert step(g, d, labelled) == "autograd" and len(seen) == 1 and seen[0] is labelled
    gc, dc = _pair(classes=10)
    aux = GanObjective(generator_loss_non_saturating, 0.5)
    assert type(build_step(cond, aux, gc, dc)) is SimultaneousStep


def test_bf16_autocast_step_stays_close_to_the_float32_step():
    """Stated tolerance: after 3 steps each parameter's change from its start agrees with the
    float32 step's change to 5% of that change's size."""
    g1, d1 = _pair(keep=(1.0, 1.0))
    g2, d2 = _pair(keep=(1.0, 1.0))
    g0, d0 = _pair(keep=(1.0, 1.0))
    _run(SimultaneousStep(PLAIN), g1, d1)
    step = build_step(_config("speed.autocast='bf16'"), PLAIN, g2, d2)
    assert isinstance(step, AutocastStep)
    _run(step, g2, d2)
    for a, b, start in ((g1, g2, g0), (d1, d2, d0)):
        for p, q, p0 in zip(a.net.parameters(), b.net.parameters(), start.net.parameters(),
                            strict=True):
            change = (p - p0).norm()
            assert change > 0
            assert (p - q).norm() <= 0.05 * change


def _dcgan_pair(sets: tuple[str, ...] = (), frozen: str = ""):
    """dcgan-mnist at width 16 with momentum SGD, so that one update is -lr x the gradient the
    step computed (Adam's first updates are about lr x sign(gradient): bf16 rounding flips
    the sign of near-zero gradients, a matter of the optimiser, not of the step's precision).
    The ``frozen`` player ("g" or "d") gets lr 1e-30: it moves nothing that float32 can see
    (the schedule cannot take lr 0)."""
    cfg = build_config("dcgan-mnist", sets=["model.g_width=16", "model.d_width=16",
                                            "optim.name='momentum'", "optim.lr=0.01", *sets])
    torch.manual_seed(0)
    g = build_generator(cfg.model, (1, 28, 28))
    d = build_discriminator(cfg.model, (1, 28, 28))
    players = []
    for name, net in (("g", g), ("d", d)):
        ocfg = dataclasses.replace(cfg.optim, lr=1e-30 if name == frozen else cfg.optim.lr)
        players.append(Player(net, *build_optimizer(ocfg, net.parameters())))
    return cfg, tuple(players)


@pytest.mark.parametrize("moving", ["d", "g"])
def test_bf16_autocast_dcgan_update_stays_close_to_the_float32_update(moving):
    """The conv model with batch norm (where bf16 pays, docs/speed.md). Stated tolerance: from
    the same weights, one alternating step moves each parameter tensor of the player that
    learns (the other one frozen, so that G's gradient meets the same D) within 15% of the
    float32 step's move (measured: 1-10%; bf16 keeps 8 bits of mantissa, and batch norm's
    backward subtracts nearly equal numbers). Unfrozen, G's gradient after D's own bf16
    update differs by about half: it depends that sharply on D."""
    frozen = "g" if moving == "d" else "d"
    _, (g1, d1) = _dcgan_pair(frozen=frozen)
    cfg, (g2, d2) = _dcgan_pair(("speed.autocast='bf16'",), frozen=frozen)
    _, (g0, d0) = _dcgan_pair()
    real = torch.rand(64, 1, 28, 28) * 2 - 1
    step = build_step(cfg, PLAIN, g2, d2)
    assert isinstance(step, AutocastStep)
    for fn, g, d in ((AlternatingStep(PLAIN), g1, d1), (step, g2, d2)):
        torch.manual_seed(0)
        fn(g, d, [Batch(real)])
    a, b, start = (g1, g2, g0) if moving == "g" else (d1, d2, d0)
    for p, q, p0 in zip(a.net.parameters(), b.net.parameters(), start.net.parameters(),
                        strict=True):
        change = (p - p0).norm()
        assert change > 0
        assert (p - q).norm() <= 0.15 * change


def test_compile_failure_falls_back_to_eager_with_a_warning(monkeypatch):
    g1, d1 = _pair()
    g2, d2 = _pair()
    _run(SimultaneousStep(PLAIN), g1, d1)

    class Broken(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def sample_noise(self, n):
            return self.net.sample_noise(n)

        def forward(self, *args):
            raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(torch, "compile", Broken)
    step = build_step(_config("speed.compile=true", "speed.step='autograd'"), PLAIN, g2, d2)
    with pytest.warns(UserWarning, match="no C.. compiler"):
        _run(step, g2, d2)
    assert step.failed and step.compile_seconds is None
    _same(g1, g2, 0)
    _same(d1, d2, 0)


@pytest.mark.skipif(os.environ.get("GANKIT_COMPILE_TESTS") != "1",
                    reason="compiling takes minutes on 2 cores; GANKIT_COMPILE_TESTS=1 runs it")
def test_compiled_step_equals_the_eager_step_without_dropout():
    """Stated tolerance: float32 rounding, 1e-5 relative after 2 steps."""
    g1, d1 = _pair(keep=(1.0, 1.0))
    g2, d2 = _pair(keep=(1.0, 1.0))
    _run(SimultaneousStep(PLAIN), g1, d1, steps=2)
    step = build_step(_config("speed.compile=true"), PLAIN, g2, d2)
    assert isinstance(step, CompiledStep)
    _run(step, g2, d2, steps=2)
    assert step.failed is None and step.compile_seconds > 0
    _same(g1, g2, 1e-5)
    _same(d1, d2, 1e-5)


def test_compile_failure_inside_the_shared_stream_rewinds_it(monkeypatch):
    """The failed first call drew noise from the stream; the eager retry must redraw it."""
    g1, d1 = _pair()
    g2, d2 = _pair()
    with shared_stream(torch.Generator().manual_seed(3)):
        _run(SimultaneousStep(PLAIN), g1, d1, steps=1)

    def broken(net):
        class Broken(torch.nn.Module):
            def sample_noise(self, n):
                return net.sample_noise(n)

            def forward(self, *args):
                raise RuntimeError("no compiler")
        return Broken()

    monkeypatch.setattr(torch, "compile", broken)
    step = build_step(_config("speed.compile=true"), PLAIN, g2, d2)
    with shared_stream(torch.Generator().manual_seed(3)), pytest.warns(UserWarning):
        _run(step, g2, d2, steps=1)
    _same(g1, g2, 0)
    _same(d1, d2, 0)


@pytest.mark.parametrize("step", [SimultaneousStep(PLAIN), FusedSimultaneousStep(PLAIN)],
                         ids=["autograd", "fused"])
def test_flushing_subnormals_leaves_the_update_unchanged(step):
    """speed.flush_denormal where it matters: with G's output bias at -88 its sigmoid gives
    subnormal pixels (about 1e-39), as a trained paper-mnist G does on the background.
    Flushing them to 0 leaves every parameter after 5 steps within 1e-6 of the unflushed run.
    D's biases are drawn apart, as in a trained D: with the initial zero biases, inputs flushed
    to exactly 0 tie all pieces of a maxout unit, and a tie routes the gradient differently."""
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals (torch.set_flush_denormal is x86-only)")
    tiny = torch.finfo(torch.float32).tiny
    results = []
    for flush in (False, True):
        with subnormals_flushed(flush):
            assert flushing_subnormals() is flush
            g, d = _pair(keep=(1.0, 1.0))
            with torch.no_grad():
                g.net.out.bias.fill_(-88.0)
                for p in d.net.parameters():
                    if p.dim() == 1:
                        p.uniform_(-0.5, 0.5)
                pixels = g.net(g.net.sample_noise(64))
            subnormal = ((pixels > 0) & (pixels < tiny)).float().mean().item()
            assert (subnormal == 0) if flush else (subnormal > 0.1)
            _run(step, g, d, steps=5)
            results.append([p.clone() for p in (*g.net.parameters(), *d.net.parameters())])
    for p, q in zip(*results, strict=True):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-6)
    assert not flushing_subnormals()  # the block restored the process's mode


def test_training_flushes_subnormals_only_while_it_runs(tmp_path):
    """The trainer turns flushing on for its own steps and restores the process's mode after:
    other code in the process (hypothesis, users' numerics) expects IEEE subnormals."""
    from gankit.api import train
    from gankit.training.callbacks import Callback

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals (torch.set_flush_denormal is x86-only)")
    seen = []

    class Probe(Callback):
        def on_log(self, trainer, record):
            seen.append(flushing_subnormals())

    for flush in (True, False):
        train(config=_config("train.max_steps=2", "train.log_every=1", "train.sample_every=0",
                             "report.html=false", f"speed.flush_denormal={str(flush).lower()}"),
              out=tmp_path / str(flush), progress=False, callbacks=[Probe()])
        assert seen and set(seen) == {flush}
        assert not flushing_subnormals()
        seen.clear()
