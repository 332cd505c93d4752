"""DiscoGAN: nets, two-domain data, the losses against hand computation, training in the
trainer (improves, resumes bit-identically), scoring and `gankit translate`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import Scale
from PIL import Image
from torch import nn

from gankit.api import load_generator, resume, train
from gankit.cli import main
from gankit.config import build_config
from gankit.data.images import ImageData
from gankit.data.paired_domains import (
    RELATIONS,
    TOY_MODES_A,
    TOY_MODES_B,
    TwoDomains,
    load_domains,
    mnist_domains,
)
from gankit.discogan.game import DiscoLosses
from gankit.discogan.scoring import mode_map, score_relation
from gankit.errors import CheckpointError, ConfigError, DataError
from gankit.io import checkpoint as ckpt
from gankit.nets.discogan import (
    ConvDiscriminator,
    ConvTranslator,
    WarpTranslator,
    build_pairs,
    spatial_sizes,
)


# ---------------------------------------------------------------- nets
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64), (1, 8, 8), (3, 9, 9)])
@pytest.mark.parametrize("bottleneck", [True, False])
def test_translator_keeps_the_shape_and_range(shape, bottleneck):
    g = ConvTranslator(shape, width=4, global_bottleneck=bottleneck)
    d = ConvDiscriminator(shape, width=4)
    x = torch.rand(3, *shape)
    y = g(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert d(x).shape == (3,)
    if bottleneck:  # the 5-layer variant encodes the whole image into one 1x1 code
        assert g.encoder(x).shape[-2:] == (1, 1)


def test_spatial_sizes_halve_to_four():
    assert spatial_sizes(28) == [28, 14, 7, 4]
    assert spatial_sizes(64) == [64, 32, 16, 8, 4]
    assert spatial_sizes(28, depth=2) == [28, 14, 7] and spatial_sizes(64, 1) == [64, 32]
    assert spatial_sizes(28, depth=9) == spatial_sizes(28)  # never below 4
    shallow = ConvTranslator((1, 28, 28), width=4, global_bottleneck=False, depth=2)
    x = torch.rand(2, 1, 28, 28)
    assert shallow.encoder(x).shape == (2, 8, 7, 7) and shallow(x).shape == x.shape
    with pytest.raises(ConfigError, match="at least 8x8"):
        spatial_sizes(6)


@pytest.mark.parametrize("side", [28, 9])
def test_warp_translator_starts_at_identity_and_can_express_rot90_exactly(side):
    g = WarpTranslator((1, side, side), width=4)
    x = torch.rand(3, 1, side, side, dtype=torch.float64)
    g = g.double()
    assert torch.allclose(g(x), x, atol=1e-12)  # identity map: samples at the pixel centres
    with torch.no_grad():  # counter-clockwise by 90 degrees, as the mnist-rot90 relation
        g.similarity.bias.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0]))  # a = 0, b = 1
    assert torch.allclose(g(x), RELATIONS["rot90"].forward(x), atol=1e-12)
    assert torch.allclose(RELATIONS["rot90"].inverse(g(x)), x, atol=1e-12)


def test_warp_arch_builds_warp_generators_and_conv_discriminators():
    cfg = build_config("discogan-mnist-rot90", sets=["discogan.width=4"])  # the preset's G
    g, d = build_pairs(cfg.discogan, (1, 28, 28))
    assert all(isinstance(m, WarpTranslator) for m in g.values())
    assert all(isinstance(m, ConvDiscriminator) for m in d.values())
    x = torch.rand(4, 1, 28, 28, requires_grad=True)
    g["ab"](x).sum().backward()
    assert g["ab"].similarity.weight.grad.abs().sum() > 0  # the map's weights learn from step one


# ---------------------------------------------------------------- data
def test_mnist_domains_are_disjoint_halves_under_the_relation(mnist_root):
    from gankit.data.mnist import load_mnist

    full = load_mnist("train", mnist_root)
    for name, rel in RELATIONS.items():
        pair = mnist_domains(name, "train", mnist_root)
        assert len(pair.a) == len(pair.b) == 25_000
        assert torch.equal(pair.a.images, full.images[:25_000])
        assert torch.allclose(rel.inverse(pair.b.images), full.images[25_000:], atol=1e-6)
        test = mnist_domains(name, "test", mnist_root)  # paired: the ground truth
        assert torch.equal(test.b.images, rel.forward(test.a.images))
    rot = RELATIONS["rot90"].forward(torch.arange(4.0).view(1, 1, 2, 2))
    assert rot.flatten().tolist() == [1.0, 3.0, 0.0, 2.0]  # counter-clockwise


def _write_images(folder, n, colour, size=(12, 10)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = (rng.random((size[1], size[0], 3)) * 60).astype(np.uint8) + np.uint8(colour)
        Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return folder


def test_folder_domains_read_at_the_data_size_and_colour(tmp_path):
    a, b = _write_images(tmp_path / "a", 5, 150), _write_images(tmp_path / "b", 3, 20)
    pair = load_domains("folders", folder_a=str(a), folder_b=str(b), image_size=8, color="rgb")
    assert pair.a.images.shape == (5, 3, 8, 8) and pair.b.images.shape == (3, 3, 8, 8)
    assert len(pair) == 3  # an epoch visits min(|A|, |B|)
    assert pair.a.images.min() >= 150 / 255 - 0.01 and pair.a.images.max() <= 210 / 255 + 0.01
    assert pair.b.images.max() <= 80 / 255 + 0.01
    grey = load_domains("folders", folder_a=str(a), folder_b=str(b), image_size=8, color="grey")
    assert grey.a.images.shape == (5, 1, 8, 8)
    with pytest.raises(ConfigError, match="discogan.folder_b"):
        load_domains("folders", folder_a=str(a), image_size=8)
    with pytest.raises(DataError, match="does not exist"):
        load_domains("folders", folder_a=str(a), folder_b=str(tmp_path / "nope"), image_size=8)
    with pytest.raises(ConfigError, match="not a pair of domains"):
        load_domains("mnist")


def test_domains_must_share_a_shape():
    with pytest.raises(DataError, match="same image shape"):
        TwoDomains(ImageData(torch.zeros(2, 1, 8, 8)), ImageData(torch.zeros(2, 3, 8, 8)))


# ---------------------------------------------------------------- losses
class SumLogit(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x):
        return self.k * x.flatten(1).sum(1)


def _softplus(v):  # torch's CPU softplus agrees with this to ~1e-8 only, even in float64
    return math.log1p(math.exp(v))


@pytest.mark.parametrize("recon", ["l2", "l1"])
def test_losses_match_a_hand_computation(recon):
    x_a, x_b = torch.tensor([[0.2, 0.4]]).double(), torch.tensor([[0.5, 0.1]]).double()
    g = nn.ModuleDict({"ab": Scale(2.0), "ba": Scale(0.5, 0.1)})
    d = nn.ModuleDict({"a": SumLogit(1.0), "b": SumLogit(-1.0)})
    losses = DiscoLosses(gan_weight=1.0, recon_weight=1.0, recon=recon, both_directions=True)
    fakes = losses.translate(g, x_a, x_b)
    loss_d, _, _ = losses.d_loss(d, x_a, x_b, fakes)
    loss_g = losses.g_loss(d, x_a, x_b, fakes)
    ab, ba = [0.4, 0.8], [0.35, 0.15]
    aba, bab = [0.3, 0.5], [0.7, 0.3]
    power = 2 if recon == "l2" else 1

    def dist(u, v):  # the mean over the two pixels
        return sum(abs(p - q) ** power for p, q in zip(u, v, strict=True)) / 2
    # L_D: D_A(x) = sum(x), D_B(x) = -sum(x); BCE(l, 1) = softplus(-l), BCE(l, 0) = softplus(l)
    want_d = (_softplus(-0.6) + _softplus(sum(ba)) + _softplus(0.6) + _softplus(-sum(ab)))
    want_g = (_softplus(sum(ab)) + _softplus(-sum(ba))
              + dist(aba, [0.2, 0.4]) + dist(bab, [0.5, 0.1]))
    assert float(loss_d) == pytest.approx(want_d, rel=1e-7)
    assert float(loss_g) == pytest.approx(want_g, rel=1e-7)


def test_one_direction_without_reconstruction_is_a_plain_gan():
    x_a, x_b = torch.tensor([[0.2, 0.4]]).double(), torch.tensor([[0.5, 0.1]]).double()
    g = nn.ModuleDict({"ab": Scale(2.0), "ba": Scale(0.5, 0.1)})
    d = nn.ModuleDict({"a": SumLogit(1.0), "b": SumLogit(-1.0)})
    losses = DiscoLosses(1.0, 0.0, "l2", both_directions=False)
    fakes = losses.translate(g, x_a, x_b)
    assert set(fakes) == {"ab"}  # G_BA is never used
    loss_d, _, _ = losses.d_loss(d, x_a, x_b, fakes)
    loss_g = losses.g_loss(d, x_a, x_b, fakes)
    assert float(loss_d) == pytest.approx(_softplus(0.6) + _softplus(-1.2), rel=1e-7)
    assert float(loss_g) == pytest.approx(_softplus(1.2), rel=1e-7)


# ---------------------------------------------------------------- training in the trainer
TOY = ["train.log_every=10", "train.sample_every=1", "train.checkpoint_every=1",
       "discogan.hidden=[32, 32]", "train.batch_size=100"]


def _mean_distance_to_b(run_dir):
    from gankit.discogan.scoring import load_translators

    g, _ = load_translators(run_dir)
    _, _, _, mapped = mode_map(g["ab"], per_mode=50)
    return float(torch.cdist(mapped, TOY_MODES_B).min(1).values.mean())


def test_toy_training_moves_a_onto_bs_modes(tmp_path):
    torch.manual_seed(0)
    cfg = build_config("discogan-toy", sets=[*TOY, "train.epochs=1", "train.max_steps=1"])
    train(config=cfg, out=tmp_path / "start", progress=False)
    cfg = build_config("discogan-toy", sets=[*TOY, "train.epochs=5"])
    run = train(config=cfg, out=tmp_path / "trained", progress=False)
    before, after = _mean_distance_to_b(tmp_path / "start"), _mean_distance_to_b(run.run_dir)
    assert after < 0.6 * before, (before, after)
    assert (run.run_dir / "samples" / "epoch-0005.png").exists()


def _folder_config(tmp_path, *sets):
    a = tmp_path / "A" if (tmp_path / "A").exists() else _write_images(tmp_path / "A", 40, 20)
    b = tmp_path / "B" if (tmp_path / "B").exists() else _write_images(tmp_path / "B", 48, 180)
    return build_config("discogan-mnist-invert", sets=[
        'data.name="folders"', f'discogan.folder_a="{a}"', f'discogan.folder_b="{b}"',
        "data.image_size=8", 'data.color="grey"', "discogan.width=4",
        "discogan.depth=0", "discogan.global_bottleneck=true",  # the paper's G, batch norm
        "train.batch_size=8", "train.log_every=2", *sets])


def test_conv_discogan_resumes_bit_identical(tmp_path):
    train(config=_folder_config(tmp_path, "train.epochs=2"), out=tmp_path / "whole",
          progress=False)
    train(config=_folder_config(tmp_path, "train.epochs=1"), out=tmp_path / "split",
          progress=False)
    resume(tmp_path / "split", epochs=2, progress=False)
    a, sa = ckpt.read_checkpoint(ckpt.resolve(tmp_path / "whole")[0])
    b, sb = ckpt.read_checkpoint(ckpt.resolve(tmp_path / "split")[0])
    weights = [k for k in a if k.startswith(("G/ab.", "G/ba.", "D/a.", "D/b."))]
    assert len(weights) > 20 and any("running_mean" in k for k in weights)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sa["step"] == sb["step"] == 2 * (40 // 8)
    grid = Image.open(tmp_path / "whole" / "samples" / "epoch-0002.png")
    assert grid.size[1] > grid.size[0] / 2  # six rows of ten: A, AB, ABA, B, BA, BAB
    from gankit.report.data import load_run

    report = load_run(tmp_path / "whole")  # the HTML report (written at the end) reads these
    assert (tmp_path / "whole" / "report.html").stat().st_size > 0
    assert [epoch for epoch, _ in report.samples] == [1, 2] and len(report.training) >= 2


def test_translate_cli_writes_side_by_side_figure(tmp_path, capsys):
    run = train(config=_folder_config(tmp_path, "train.epochs=1"), out=tmp_path / "run",
                progress=False).run_dir
    out = tmp_path / "fig.png"
    assert main(["translate", str(run), "--from", "B", "--images", str(tmp_path / "B"),
                 str(tmp_path / "A" / "000.png"), "--out", str(out), "-n", "6"]) == 0
    assert "6 images from domain B" in capsys.readouterr().out
    img = Image.open(out)  # 2 rows of 4 triples, 8x8 images enlarged 10x, 1 pixel gaps
    assert img.size == ((12 * 9 + 1) * 10, (2 * 9 + 1) * 10)
    assert main(["translate", str(run), "--from", "A", "--out", str(out)]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    assert main(["translate", str(run), "--from", "A", "--images", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "x.png")]) == 2
    with pytest.raises(CheckpointError, match="gankit translate"):
        load_generator(run)


def test_translate_refuses_a_plain_gan_run(tmp_path, capsys):
    from helpers import tiny_config

    run = train(config=tiny_config("train.epochs=1"), out=tmp_path / "gan", progress=False)
    assert main(["translate", str(run.run_dir), "--from", "A", "--out",
                 str(tmp_path / "f.png")]) == 2
    assert "not a 'discogan' one" in capsys.readouterr().err


def test_unknown_domain_pair_is_refused_before_training(tmp_path):
    cfg = build_config("discogan-toy", sets=['data.name="mnist"'])
    with pytest.raises(ConfigError, match="not a pair of domains"):
        train(config=cfg, out=tmp_path / "r", progress=False)


def test_conditional_or_data_parallel_discogan_is_refused(tmp_path):
    from gankit.distributed import DistContext
    from gankit.games import make_trainer

    cfg = build_config("discogan-toy", sets=["condition.classes=2", "condition.aux_weight=1.0"])
    with pytest.raises(ConfigError, match="DiscoGAN is not conditional"):
        train(config=cfg, out=tmp_path / "c", progress=False)
    for noise_only in ("eval.every=1", "monitor.collapse_every=5", "report.tensorboard=true",
                       'speed.step="fused"', "speed.compile=true"):
        cfg = build_config("discogan-toy", sets=[*TOY, noise_only])
        with pytest.raises(ConfigError, match=noise_only.split("=")[0].replace(".", r"\.")):
            train(config=cfg, out=tmp_path / "n", progress=False)
    cfg = build_config("discogan-toy", sets=TOY)
    with pytest.raises(ConfigError, match="one process"):
        make_trainer(cfg, tmp_path / "p", progress=False, dist=DistContext(rank=1, world=2))


def test_one_direction_variant_moves_only_the_used_networks_gradients(tmp_path):
    """D_A and G_BA get no gradient in "ab": the step runs, and only G_AB and D_B move."""
    sets = [*TOY, 'discogan.directions="ab"', "discogan.recon_weight=0.0", "train.max_steps=2",
            'game.schedule="alternating"', "game.d_steps=2"]
    run = train(config=build_config("discogan-toy", sets=sets), out=tmp_path / "ab",
                progress=False)
    assert run.step == 2
    before = build_config("discogan-toy", sets=[*sets, "train.max_steps=1"])
    first = train(config=before, out=tmp_path / "ab1", progress=False)
    t1, _ = ckpt.read_checkpoint(first.checkpoint)
    t2, _ = ckpt.read_checkpoint(run.checkpoint)
    moved = {k.split("/")[1].split(".")[0] for k in t1 if k.startswith(("G/", "D/"))
             and not torch.equal(t1[k], t2[k])}
    assert moved == {"ab", "b"}


# ---------------------------------------------------------------- scoring
class Relation(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class MeanClassifier(nn.Module):
    """Predicts class 1 when the mean pixel is below 0.5, else 0: sensitive to inversion."""

    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([m - 0.5, 0.5 - m], 1)


class TopClassifier(nn.Module):
    """Predicts class 1 when the top two rows hold more ink than the bottom two: sensitive to
    turning upside down."""

    def forward(self, x):
        top, bottom = x[..., :2, :].flatten(1).mean(1), x[..., -2:, :].flatten(1).mean(1)
        return torch.stack([bottom - top, top - bottom], 1)


def test_score_relation_against_hand_made_maps():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(20, 1, 8, 8, generator=gen) * 0.4  # dark images: class 1
    rel = RELATIONS["invert"]
    test = TwoDomains(ImageData(x, torch.ones(20, dtype=torch.long)),
                      ImageData(rel.forward(x)), rel)
    perfect = nn.ModuleDict({"ab": Relation(rel.forward), "ba": Relation(rel.inverse)})
    s = score_relation(perfect, test, MeanClassifier())
    assert s.mae == 0 and s.back_mae < 1e-6 and s.accuracy == s.truth_accuracy == 1.0
    truth = rel.forward(x)
    assert s.constant_mae == pytest.approx(float((truth - truth.median(0).values).abs().mean()))
    constant = nn.ModuleDict({"ab": Relation(lambda t: torch.zeros_like(t) + truth.median(0)
                                             .values), "ba": Relation(lambda t: t)})
    assert score_relation(constant, test).mae == pytest.approx(s.constant_mae)
    identity = nn.ModuleDict({"ab": Relation(lambda t: t), "ba": Relation(lambda t: t)})
    s = score_relation(identity, test, MeanClassifier())
    assert s.mae == pytest.approx(s.identity_mae) and s.mae == pytest.approx(
        float((2 * x - 1).abs().mean()), rel=1e-6)
    assert s.accuracy == 0.0  # the inverse of an un-inverted image is bright: class 0


def test_reverse_accuracy_recognises_a_rotation_the_other_way():
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(10, 1, 8, 8)
    x[:, :, :2] = torch.rand(10, 1, 2, 8, generator=gen) + 1  # bright top rows: class 1
    rel = RELATIONS["rot90"]
    test = TwoDomains(ImageData(x, torch.ones(10, dtype=torch.long)), ImageData(rel.forward(x)),
                      rel)
    wrong_way = nn.ModuleDict({"ab": Relation(rel.inverse), "ba": Relation(rel.forward)})
    s = score_relation(wrong_way, test, TopClassifier())
    assert s.accuracy == 0.0 and s.reverse_accuracy == 1.0  # the map turned by -90
    right_way = nn.ModuleDict({"ab": Relation(rel.forward), "ba": Relation(rel.inverse)})
    s = score_relation(right_way, test, TopClassifier())
    assert s.accuracy == 1.0 and s.reverse_accuracy == 0.0


def test_mode_map_reads_off_bijections_and_collapse():
    perm = [3, 0, 5, 7, 1, 6, 2, 4]

    def to_b(points):
        p = points.reshape(-1, 2)
        k = torch.cdist(p, TOY_MODES_A).argmin(1)
        return (TOY_MODES_B[torch.tensor(perm)[k]] + (p - TOY_MODES_A[k])).view(points.shape)

    m, *_ = mode_map(Relation(to_b), per_mode=50)
    assert m.targets == perm and m.distinct_targets == 8
    assert m.on_mode > 0.99 and m.purity > 0.99
    collapsed, *_ = mode_map(Relation(lambda p: torch.zeros_like(p) + 1.0), per_mode=50)
    assert collapsed.distinct_targets == 1 and collapsed.targets == [2] * 8  # (1, 1) is mode 2


def test_translate_uses_the_averaged_maps_unless_raw(tmp_path, capsys):
    run = train(config=_folder_config(tmp_path, "train.epochs=1", "train.ema=0.9"),
                out=tmp_path / "run", progress=False).run_dir
    figures = {}
    for flags in ([], ["--raw"]):
        out = tmp_path / f"fig{len(flags)}.png"
        assert main(["translate", str(run), "--from", "A", "--images", str(tmp_path / "A"),
                     "--out", str(out), "-n", "4", *flags]) == 0
        figures[len(flags)] = np.asarray(Image.open(out))
    # the first column of each triple is the input itself, the same in both figures
    assert figures[0].shape == figures[1].shape and not np.array_equal(figures[0], figures[1])
    assert np.array_equal(figures[0][:, :80], figures[1][:, :80])
