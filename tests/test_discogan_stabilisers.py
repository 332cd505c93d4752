"""The field's stabilisers inside DiscoGAN: each loss pair's D and G terms, R1 / R2 on D_A and
D_B and instance noise against hand computations, spectral norm on both critics against an
SVD, short runs that resume bit for bit, and the refusals of what is not built."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import Scale, assert_spectral_norm_holds
from PIL import Image
from torch import nn

from gankit import rng
from gankit.api import resume, train
from gankit.config import DiscoGANConfig, OptimConfig, build_config
from gankit.core.game import Batch
from gankit.core.losses import loss_pair
from gankit.core.optim import build_optimizer
from gankit.core.penalties import Regularisers
from gankit.core.players import Player
from gankit.discogan.game import DiscoLosses, DiscoObjective
from gankit.errors import ConfigError
from gankit.games import check_config
from gankit.io import checkpoint as ckpt
from gankit.nets.discogan import build_pairs

D64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class SumLogit(nn.Module):
    """D(x) = k sum(x), k a parameter (so that the critics make a player)."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k, dtype=D64))

    def forward(self, x):
        return self.k * x.flatten(1).sum(1)


class Quadratic(nn.Module):
    """D(x) = c/2 ||x||^2: grad_x D = c x."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=D64))

    def forward(self, x):
        return self.c / 2 * x.flatten(1).pow(2).sum(1)


class Linear(nn.Module):
    """D(x) = w . x + 0.3: grad_x D = w everywhere."""

    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=D64))

    def forward(self, x):
        return x.flatten(1) @ self.w + 0.3


def _player(d: nn.ModuleDict) -> Player:
    return Player(d, *build_optimizer(OptimConfig(), d.parameters(), "d"))


# ---------------------------------------------------------------- the loss pairs
XA = [[0.2, 0.4], [0.9, -0.2]]
XB = [[0.5, 0.1], [-0.2, 0.7]]
AB = [[2 * v for v in row] for row in XA]  # G_AB(x) = 2 x
BA = [[0.5 * v + 0.1 for v in row] for row in XB]  # G_BA(x) = x / 2 + 0.1
ABA = [[0.5 * v + 0.1 for v in row] for row in AB]
BAB = [[2 * v for v in row] for row in BA]
# D_A(x) = sum(x), D_B(x) = -1.5 sum(x): (its reals' logits, its translations' logits)
CRITICS = {"b": ([-1.5 * sum(r) for r in XB], [-1.5 * sum(r) for r in AB]),
           "a": ([sum(r) for r in XA], [sum(r) for r in BA])}


def _sp(v: float) -> float:  # softplus; torch's CPU softplus agrees to ~1e-8 only, in float64
    return math.log1p(math.exp(v))


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


S = 0.1  # label smoothing
# game.loss (and g_loss, smoothing) -> (the GAN game's D loss, its G loss) on (real, fake)
HAND = {
    ("gan", "non_saturating", 0.0): (
        lambda r, f: 0.5 * (_mean(_sp(-v) for v in r) + _mean(_sp(v) for v in f)),
        lambda r, f: _mean(_sp(-v) for v in f)),
    ("gan", "minimax", 0.0): (
        lambda r, f: 0.5 * (_mean(_sp(-v) for v in r) + _mean(_sp(v) for v in f)),
        lambda r, f: -_mean(_sp(v) for v in f)),
    ("gan", "non_saturating", S): (
        lambda r, f: 0.5 * (_mean((1 - S) * _sp(-v) + S * _sp(v) for v in r)
                            + _mean(_sp(v) for v in f)),
        lambda r, f: _mean(_sp(-v) for v in f)),
    ("hinge", "non_saturating", 0.0): (
        lambda r, f: _mean(max(0.0, 1 - v) for v in r) + _mean(max(0.0, 1 + v) for v in f),
        lambda r, f: -_mean(f)),
    ("lsgan", "non_saturating", 0.0): (
        lambda r, f: 0.5 * _mean((v - 1) ** 2 for v in r) + 0.5 * _mean(v**2 for v in f),
        lambda r, f: 0.5 * _mean((v - 1) ** 2 for v in f)),
    ("wgan", "non_saturating", 0.0): (
        lambda r, f: _mean(f) - _mean(r),
        lambda r, f: -_mean(f)),
    ("rpgan", "non_saturating", 0.0): (  # real i paired with translation i
        lambda r, f: _mean(_sp(-(u - v)) for u, v in zip(r, f, strict=True)),
        lambda r, f: _mean(_sp(-(v - u)) for u, v in zip(r, f, strict=True))),
}


def _fixed_nets() -> tuple[nn.ModuleDict, nn.ModuleDict]:
    g = nn.ModuleDict({"ab": Scale(2.0), "ba": Scale(0.5, 0.1)})
    return g, nn.ModuleDict({"a": SumLogit(1.0), "b": SumLogit(-1.5)})


@pytest.mark.parametrize("loss, g_loss, smoothing", HAND)
def test_each_pairs_d_and_g_terms_match_a_hand_computation(loss, g_loss, smoothing):
    """L_D = 2 (L_D^pair(D_B) + L_D^pair(D_A)), L_G = w_gan (L_G^pair(D_B) + L_G^pair(D_A))
    + w_rec (reconstructions): from D's forward pass (simultaneous) and afresh alike."""
    g, d = _fixed_nets()
    losses = DiscoLosses(1.5, 0.5, "l2", True, loss_pair(loss, g_loss, smoothing))
    obj = DiscoObjective(losses)
    x_a, x_b = torch.tensor(XA, dtype=D64), torch.tensor(XB, dtype=D64)
    batch = Batch((x_a, x_b))
    fakes = losses.translate(g, x_a, x_b)
    terms = obj.d_loss(_player(d), batch, fakes)
    hand_d, hand_g = HAND[(loss, g_loss, smoothing)]
    want_d = 2 * (hand_d(*CRITICS["b"]) + hand_d(*CRITICS["a"]))
    recon = sum(_mean((p - q) ** 2 for u, v in zip(out, x, strict=True)
                      for p, q in zip(u, v, strict=True)) for out, x in ((ABA, XA), (BAB, XB)))
    want_g = 1.5 * (hand_g(*CRITICS["b"]) + hand_g(*CRITICS["a"])) + 0.5 * recon
    tol = 1e-12 if loss in ("hinge", "lsgan", "wgan") else 1e-7
    assert terms.loss.item() == pytest.approx(want_d, rel=tol)
    assert terms.real_logits.tolist() == pytest.approx(CRITICS["b"][0] + CRITICS["a"][0])
    for reused in (terms, None):  # rpgan's G loss reads the reals' scores either way
        assert obj.g_loss(_player(d), batch, fakes, reused).item() == pytest.approx(want_g,
                                                                                   rel=tol)


def test_one_direction_uses_d_b_alone_with_any_pair():
    g, d = _fixed_nets()
    losses = DiscoLosses(1.0, 0.0, "l2", False, loss_pair("rpgan"))
    x_a, x_b = torch.tensor(XA, dtype=D64), torch.tensor(XB, dtype=D64)
    fakes = losses.translate(g, x_a, x_b)
    loss_d, _, _ = losses.d_loss(d, x_a, x_b, fakes)
    hand_d, hand_g = HAND[("rpgan", "non_saturating", 0.0)]
    assert loss_d.item() == pytest.approx(2 * hand_d(*CRITICS["b"]), rel=1e-7)
    assert losses.g_loss(d, x_a, x_b, fakes).item() == pytest.approx(hand_g(*CRITICS["b"]),
                                                                      rel=1e-7)


# ---------------------------------------------------------------- D's regularisers
def _extra(d: Player, reg: Regularisers, fakes_carry_graph: bool = False):
    """D's loss with ``reg`` minus without it, on the fixed batch; and D's loss."""
    g, _ = _fixed_nets()
    x_a, x_b = torch.tensor(XA, dtype=D64), torch.tensor(XB, dtype=D64)
    if fakes_carry_graph:  # the simultaneous step: G's samples carry G's graph
        g["ab"].k = torch.tensor(2.0, dtype=D64, requires_grad=True)
        g["ba"].k = torch.tensor(0.5, dtype=D64, requires_grad=True)
    with_reg = DiscoObjective(DiscoLosses(1.0, 1.0, "l2", True, reg=reg))
    fakes = with_reg.losses.translate(g, x_a, x_b)
    terms = with_reg.d_loss(d, Batch((x_a, x_b)), fakes)
    plain, _, _ = DiscoLosses(1.0, 1.0, "l2", True).d_loss(d.net, x_a, x_b, fakes)
    return (terms.loss - plain).item(), terms.loss


def _sq(rows) -> float:  # mean over examples of ||x||^2
    return _mean(sum(v * v for v in row) for row in rows)


@pytest.mark.parametrize("fakes_carry_graph", [False, True])
def test_r1_and_r2_act_on_each_critic_at_its_own_reals_and_translations(fakes_carry_graph):
    """Quadratic critics (grad = c x): R1 reads D_A at x_A and D_B at x_B, R2 D_A at G_BA(x_B)
    and D_B at G_AB(x_A); each critic's penalty doubled as its loss is, times reg.every."""
    ca, cb = 1.5, 0.7
    d = _player(nn.ModuleDict({"a": Quadratic(ca), "b": Quadratic(cb)}))
    r1 = 2 * 3 * (0.8 / 2) * (ca**2 * _sq(XA) + cb**2 * _sq(XB))
    r2 = 2 * 3 * (0.3 / 2) * (ca**2 * _sq(BA) + cb**2 * _sq(AB))
    for reg, want in ((Regularisers(r1=0.8, every=3), r1), (Regularisers(r2=0.3, every=3), r2),
                      (Regularisers(r1=0.8, r2=0.3, every=3), r1 + r2)):
        extra, _ = _extra(d, reg, fakes_carry_graph)
        assert extra == pytest.approx(want, rel=1e-12)


def test_r1_on_linear_critics_reaches_their_weights_and_is_lazy():
    """D(x) = w . x + b: R1 = gamma/2 ||w||^2 on each critic; doubled, times every = 2, and its
    gradient 2 * 2 * gamma * w reaches each w; the next D update carries no penalty."""
    wa, wb = [0.5, -2.0], [1.0, 3.0]
    d = _player(nn.ModuleDict({"a": Linear(wa), "b": Linear(wb)}))
    reg = Regularisers(r1=0.4, every=2)
    norms = sum(v * v for v in wa) + sum(v * v for v in wb)
    extra, loss = _extra(d, reg)
    assert extra == pytest.approx(2 * 2 * 0.4 / 2 * norms, rel=1e-12)
    d.backward(loss)
    with_pen = {k: d.net[k].w.grad.clone() for k in "ab"}
    d.opt.zero_grad(set_to_none=True)
    x_a, x_b = torch.tensor(XA, dtype=D64), torch.tensor(XB, dtype=D64)
    losses = DiscoLosses(1.0, 1.0, "l2", True)
    d.backward(losses.d_loss(d.net, x_a, x_b, losses.translate(_fixed_nets()[0], x_a, x_b))[0])
    for k, w in (("a", wa), ("b", wb)):
        want = d.net[k].w.grad + 2 * 2 * 0.4 * torch.tensor(w, dtype=D64)
        assert torch.allclose(with_pen[k], want, rtol=1e-12, atol=1e-12)
    d.step()  # D's update 1 of every 2: nothing added
    assert _extra(d, reg)[0] == 0


def test_gp_on_linear_critics_is_their_weights_norm_off_one_at_any_interpolate():
    """D(x) = w . x + b has |grad D| = |w| at every interpolate: WGAN-GP = lambda (|w| - 1)^2 on
    each critic, doubled as its loss is, times every = 2, whatever the draws; the draws come
    from the shared stream, one per example and critic (D_B's first)."""
    wa, wb = [0.5, -2.0], [1.0, 3.0]
    d = _player(nn.ModuleDict({"a": Linear(wa), "b": Linear(wb)}))
    norm_a, norm_b = math.hypot(*wa), math.hypot(*wb)
    want = 2 * 2 * 10.0 * ((norm_a - 1) ** 2 + (norm_b - 1) ** 2)
    gen = torch.Generator().manual_seed(4)
    with rng.shared_stream(gen):
        extra, _ = _extra(d, Regularisers(gp=10.0, every=2))
    assert extra == pytest.approx(want, rel=1e-12)
    used = torch.Generator().manual_seed(4)
    torch.rand((2 * len(XA),), generator=used)
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=used))


def test_instance_noise_on_every_critic_input_from_the_shared_stream():
    seen = []

    class Recording(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.k = nn.Parameter(torch.tensor(1.0))

        def forward(self, x):
            seen.append(x)
            return self.k * x.flatten(1).sum(1)

    d = nn.ModuleDict({"a": Recording(), "b": Recording()})
    g, _ = _fixed_nets()
    x_a, x_b = torch.tensor(XA), torch.tensor(XB)
    losses = DiscoLosses(1.0, 1.0, "l2", True, reg=Regularisers(noise=0.1))
    fakes = losses.translate(g, x_a, x_b)
    with rng.shared_stream(torch.Generator().manual_seed(3)):
        losses.d_loss(d, x_a, x_b, fakes)
        losses.g_loss(d, x_a, x_b, fakes)  # G's loss runs the critics afresh: fresh noise
    gen = torch.Generator().manual_seed(3)
    inputs = [x_b, fakes["ab"], x_a, fakes["ba"], fakes["ab"], fakes["ba"]]
    assert len(seen) == len(inputs)
    for got, x in zip(seen, inputs, strict=True):
        assert torch.equal(got, x + 0.1 * torch.randn((2, 2), generator=gen))


# ---------------------------------------------------------------- spectral norm
@pytest.mark.parametrize("arch, shape", [("mlp", (2, 1, 1)), ("conv", (1, 8, 8))])
def test_spectral_norm_puts_both_critics_top_singular_values_at_one(arch, shape):
    cfg = DiscoGANConfig(arch=arch, width=4, hidden=[16, 16], d_spectral_norm=True)
    torch.manual_seed(0)
    g, d = build_pairs(cfg, shape)
    torch.manual_seed(0)
    _, plain = build_pairs(DiscoGANConfig(arch=arch, width=4, hidden=[16, 16]), shape)
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(layers) >= 4 and all(hasattr(m, "parametrizations") for m in layers)
    assert not any(hasattr(m, "parametrizations") for m in g.modules())
    before = [m.weight for m in plain.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert all(torch.equal(m.parametrizations.weight.original, w)  # the same initial draws
               for m, w in zip(layers, before, strict=True))
    assert d["a"](torch.rand(4, *shape)).shape == d["b"](torch.rand(4, *shape)).shape == (4,)
    assert_spectral_norm_holds(layers)


# ---------------------------------------------------------------- training and resume
TOY = ["discogan.hidden=[16, 16]", "train.batch_size=1000", "train.sample_every=0",
       "train.log_every=2", "report.html=false"]  # 8 steps an epoch

RUNS = {
    "rpgan+r1+r2+sn-simultaneous": ["game.loss='rpgan'", "reg.r1=0.1", "reg.r2=0.1",
                                    "discogan.d_spectral_norm=true",
                                    "game.schedule='simultaneous'"],
    "hinge+lazy-r1+noise-alternating-k2": ["game.loss='hinge'", "reg.r1=0.5", "reg.every=2",
                                           "reg.instance_noise=0.05", "game.d_steps=2"],
    "wgan+sn+r2-alternating": ["game.loss='wgan'", "discogan.d_spectral_norm=true",
                               "reg.r2=0.2"],
    "wgan+gp-alternating-k2": ["game.loss='wgan'", "reg.gp=1.0", "game.d_steps=2"],
    "smoothing+noise-simultaneous": ["reg.label_smoothing=0.1", "reg.instance_noise=0.05",
                                     "game.schedule='simultaneous'"],
}


def _toy(epochs: int, *sets: str):
    return build_config("discogan-toy", sets=[*TOY, *sets, f"train.epochs={epochs}"])


def _folders(tmp_path, epochs: int, *sets: str):
    rng_np = np.random.default_rng(0)
    for name, n, colour in (("A", 16, 20), ("B", 16, 180)):
        folder = tmp_path / name
        if not folder.exists():
            folder.mkdir()
            for i in range(n):
                arr = (rng_np.random((10, 12, 3)) * 60).astype(np.uint8) + np.uint8(colour)
                Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return build_config("discogan-mnist-invert", sets=[
        'data.name="folders"', f'discogan.folder_a="{tmp_path / "A"}"',
        f'discogan.folder_b="{tmp_path / "B"}"', "data.image_size=16", 'data.color="grey"',
        "discogan.width=4", "discogan.depth=0", "discogan.global_bottleneck=true",
        "train.batch_size=8", "train.sample_every=0", "report.html=false", *sets,
        f"train.epochs={epochs}"])


def _resumes_bit_identical(tmp_path, config) -> dict[str, torch.Tensor]:
    """Two epochs straight, and one resumed to two, end on the same tensors; the former's."""
    train(config=config(2), out=tmp_path / "whole", progress=False)
    train(config=config(1), out=tmp_path / "split", progress=False)
    resume(tmp_path / "split", epochs=2, progress=False)
    a, sa = ckpt.read_checkpoint(ckpt.resolve(tmp_path / "whole")[0])
    b, sb = ckpt.read_checkpoint(ckpt.resolve(tmp_path / "split")[0])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert sa["step"] == sb["step"] > 0 and sa["epoch"] == sb["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in a.values() if v.is_floating_point())
    return a


@pytest.fixture(scope="module")
def plain_toy(tmp_path_factory):
    """The toy runs without any stabiliser, per schedule: G's weights after two epochs."""
    out, threads = {}, torch.get_num_threads()
    torch.set_num_threads(1)  # set up before the function-scoped one_torch_thread
    try:
        for schedule in ("simultaneous", "alternating"):
            run = tmp_path_factory.mktemp(schedule)
            train(config=_toy(2, f"game.schedule='{schedule}'"), out=run, progress=False)
            out[schedule] = {k: v for k, v in ckpt.read_checkpoint(ckpt.resolve(run)[0])[0]
                             .items() if k.startswith("G/")}
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize("run", RUNS)
def test_toy_run_with_stabilisers_resumes_bit_identical(tmp_path, run, plain_toy):
    sets = RUNS[run]
    a = _resumes_bit_identical(tmp_path, lambda epochs: _toy(epochs, *sets))
    if "discogan.d_spectral_norm=true" in sets:  # the power iteration's vectors are saved
        assert any(k.startswith("D/a.") and k.endswith("_u") for k in a)
    plain = plain_toy["simultaneous" if "simultaneous" in run else "alternating"]
    assert any(not torch.equal(a[k], v) for k, v in plain.items())  # the pieces took effect


def test_conv_run_with_rpgan_r1_r2_and_spectral_norm_resumes_bit_identical(tmp_path):
    sets = ["game.loss='rpgan'", "reg.r1=0.1", "reg.r2=0.1", "reg.every=2",
            "discogan.d_spectral_norm=true", "reg.instance_noise=0.02"]
    a = _resumes_bit_identical(tmp_path, lambda epochs: _folders(tmp_path, epochs, *sets))
    assert any("running_mean" in k for k in a if k.startswith("D/b."))  # batch norm, too
    assert any(k.startswith("D/b.") and k.endswith("_v") for k in a)


# ---------------------------------------------------------------- what is refused
@pytest.mark.parametrize("sets, key", [
    (["game.pack=2"], "game.pack"),
    (["model.d_minibatch_std=4"], "model.d_minibatch_std"),
    (['data.augment=["color"]'], "data.augment"),
    (["model.d_spectral_norm=true"], "model.d_spectral_norm"),
])
def test_what_is_not_built_for_discogan_is_refused_in_one_line(sets, key):
    with pytest.raises(ConfigError, match=rf"^{key} is not supported by DiscoGAN: ") as err:
        check_config(build_config("discogan-toy", sets=sets))
    assert "\n" not in str(err.value)
    if key == "model.d_spectral_norm":
        assert "set discogan.d_spectral_norm = true" in str(err.value)


def test_every_built_stabiliser_passes_the_check():
    for sets in (["game.loss='wgan'", "reg.r1=1.0", "reg.r2=1.0", "reg.gp=10.0", "reg.every=4",
                  "reg.instance_noise=0.1", "discogan.d_spectral_norm=true"],
                 ["reg.label_smoothing=0.2", "optim.d_lr=0.002"]):
        check_config(build_config("discogan-mnist-rot90", sets=sets))
    with pytest.raises(ConfigError, match="reg.label_smoothing smooths the BCE target"):
        check_config(build_config("discogan-toy", sets=["game.loss='hinge'",
                                                        "reg.label_smoothing=0.1"]))
