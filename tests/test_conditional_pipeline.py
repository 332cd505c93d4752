"""Age-cGAN steps 2-4 (encoder, latent optimisation, transfer), style measures and commands."""

import math

import numpy as np
import pytest
import torch
from helpers import tiny_config
from PIL import Image
from torch import nn

from gankit import api
from gankit.agecgan import (
    invert_images,
    load_encoder,
    optimise_latent,
    train_encoder,
    train_run_encoder,
    transfer,
    transfer_images,
    transfer_rows,
)
from gankit.agecgan.encoder import Encoder, encoder_error
from gankit.agecgan.images import load_images
from gankit.agecgan.style import slant, style_agreement, thickness
from gankit.agecgan.transfer import infer_source
from gankit.cli import main
from gankit.errors import DataError, GankitError
from gankit.nets.conditional import ConditionalMLPGenerator


def _generator(seed=0):
    torch.manual_seed(seed)
    return ConditionalMLPGenerator(6, 10, [32, 32], (1, 8, 8), init_range=0.5).eval()


def _feature_net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten()).eval()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A conditional run on the 8x8 digits with a trained encoder (seconds, not minutes)."""
    out = tmp_path_factory.mktemp("cgan") / "run"
    api.train(config=tiny_config("train.epochs=1", "condition.classes=10"), out=out,
              progress=False)
    train_run_encoder(out, steps=50, batch_size=32, progress=False)
    return out


def test_encoder_learns_to_invert_the_generator(tmp_path):
    g = _generator()
    fresh = encoder_error(Encoder((1, 8, 8), 6), g, 500, torch.Generator().manual_seed(5))
    report = train_encoder(g, tmp_path / "enc", steps=150, batch_size=32, progress=False)
    enc = load_encoder(tmp_path / "enc")
    trained = encoder_error(enc, g, 500, torch.Generator().manual_seed(5))
    assert math.isclose(trained, report.heldout_loss, rel_tol=0.3)
    assert trained < 0.5 * fresh, (fresh, trained)
    with pytest.raises(GankitError, match="already exists"):
        train_encoder(g, tmp_path / "enc", steps=150, batch_size=32, progress=False)


def test_encoder_output_stays_in_the_uniform_prior_support():
    enc = Encoder((1, 8, 8), 6)
    with torch.no_grad():
        nn.init.constant_(enc.net[-1].bias, 100.0)
        z = enc(torch.rand(3, 1, 8, 8))
    assert z.abs().max() <= math.sqrt(3) + 1e-6


@pytest.mark.parametrize("space", ["pixel", "feature"])
def test_latent_optimisation_recovers_a_generated_image(space):
    g = _generator()
    gen = torch.Generator().manual_seed(3)
    z_true = g.sample_noise(8, gen)
    y = torch.arange(8)
    with torch.no_grad():
        x = g(z_true, y)
    z0 = (z_true + 0.8 * torch.randn(8, 6, generator=gen)).clamp(-math.sqrt(3), math.sqrt(3))
    fit = optimise_latent(g, x, y, z0, space=space, feature_net=_feature_net(), steps=150,
                          lr=0.05)
    assert (fit.end < 0.1 * fit.start).all(), (fit.start, fit.end)
    assert fit.z.abs().max() <= math.sqrt(3) + 1e-6
    assert all(p.grad is None for p in g.parameters())  # only z was optimised


def test_latent_optimisation_rejects_bad_settings():
    g = _generator()
    z = g.sample_noise(2)
    with pytest.raises(GankitError, match="unknown optimisation space"):
        optimise_latent(g, g(z, torch.zeros(2, dtype=torch.long)), torch.zeros(2,
                        dtype=torch.long), z, space="audio")


def test_source_class_is_inferred_by_synthesis():
    g = _generator()
    z = g.sample_noise(10, torch.Generator().manual_seed(0))
    y = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    with torch.no_grad():
        x = g(z, y)
    assert torch.equal(infer_source(g, x, z), y)


def test_transfer_regenerates_each_code_under_each_target():
    g = _generator()
    enc = Encoder((1, 8, 8), 6)
    x = torch.rand(3, 1, 8, 8)
    t = transfer(g, enc, x, [0, 7], source=[2], space="pixel", steps=5)
    assert t.regenerated.shape == (3, 2, 1, 8, 8) and torch.equal(t.source, torch.tensor([2] * 3))
    with torch.no_grad():
        assert torch.allclose(t.regenerated[1, 1], g(t.z[1:2], torch.tensor([7]))[0])
        assert torch.allclose(t.reconstruction, g(t.z, t.source))
    assert transfer_rows(t).shape == (3 * 5, 1, 8, 8)
    with pytest.raises(GankitError, match="target classes must be classes in 0..9"):
        transfer(g, enc, x, [10], space="pixel", steps=1)
    with pytest.raises(GankitError, match="do not fit"):
        transfer(g, enc, torch.rand(1, 1, 28, 28), [1], space="pixel", steps=1)


def _bar(width, length=16, shear=0.0, size=28):
    img = torch.zeros(1, 1, size, size)
    top = (size - length) // 2
    for r in range(length):
        # shear: rows further up move right by shear per row
        offset = round(shear * (length - 1 - r))
        left = 6 + offset
        img[0, 0, top + r, left:left + width] = 1.0
    return img


def test_slant_and_thickness_by_hand():
    upright = _bar(3)
    assert abs(float(slant(upright))) < 1e-6
    # a w x L block has area w L and perimeter 2 (w + L): thickness 2 w L / (2 (w + L))
    assert math.isclose(float(thickness(upright)), 2 * 3 * 16 / (2 * (3 + 16)), rel_tol=1e-6)
    leaning = _bar(2, length=20, shear=0.5)
    assert 15 < float(slant(leaning)) < 35  # atan(0.5) = 26.6 degrees, up to pixel rounding
    assert float(slant(torch.flip(leaning, dims=[-1]))) < -15


def test_style_agreement_is_one_for_copies_and_near_zero_when_shuffled():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.cat([_bar(1 + i % 3, shear=float(s)) for i, s in
                      enumerate(torch.rand(40, generator=gen) - 0.5)])
    classes = torch.arange(40) % 2
    assert style_agreement(imgs, classes, imgs, classes) == pytest.approx(1.0)
    shuffled = imgs[torch.randperm(40, generator=gen)]
    assert abs(style_agreement(imgs, classes, shuffled, classes)) < 0.5


def test_images_are_read_from_npy_and_pictures(tmp_path):
    a = (np.arange(64).reshape(1, 8, 8) * 4).astype(np.uint8)
    np.save(tmp_path / "x.npy", a)
    x = load_images([tmp_path / "x.npy"], (1, 8, 8))
    assert x.shape == (1, 1, 8, 8) and math.isclose(float(x.max()), 252 / 255, rel_tol=1e-6)
    # a dark digit on white paper, at another size: inverted and resized
    paper = np.full((16, 16), 255, np.uint8)
    paper[4:12, 6:10] = 0
    Image.fromarray(paper).save(tmp_path / "d.png")
    y = load_images([tmp_path / "d.png"], (1, 8, 8))
    assert y.shape == (1, 1, 8, 8) and float(y[0, 0, 4, 3:5].mean()) > 0.8
    assert float(y[0, 0, 0, 0]) < 0.05
    with pytest.raises(DataError, match="shape"):
        load_images([tmp_path / "x.npy"], (1, 28, 28))
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="not a readable image"):
        load_images([tmp_path / "bad.png"], (1, 8, 8))


def test_run_level_pipeline_functions(run):
    from gankit.data import load_dataset

    digits = load_dataset("digits", "test")
    x, y = digits.images[:4], digits.labels[:4]
    y0, z = invert_images(run, x, y.tolist(), space="pixel", steps=20)
    assert torch.equal(y0, y) and z.shape == (4, 16)
    t = transfer_images(run, x, [0, 1], space="pixel", steps=20)
    assert (t.fit.end <= t.fit.start + 1e-6).all()


def test_transfer_command_writes_the_side_by_side_figure(run, tmp_path, capsys):
    from gankit.data import load_dataset

    np.save(tmp_path / "digits.npy", load_dataset("digits", "test").images[:2, 0].numpy())
    out = tmp_path / "t.png"
    assert main(["transfer", str(run), str(tmp_path / "digits.npy"), "--to", "all",
                 "--from", "3", "--space", "pixel", "--steps", "10", "--out", str(out)]) == 0
    # 2 rows of 3 + 10 images of 8 px, 1 px padding, scaled 7x
    assert Image.open(out).size == ((13 * 9 + 1) * 7, (2 * 9 + 1) * 7)
    assert "source classes [3, 3]" in capsys.readouterr().out
    assert main(["transfer", str(run), str(tmp_path / "digits.npy"), "--to", "1",
                 "--space", "pixel", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    npz = tmp_path / "z.npz"
    assert main(["invert", str(run), str(tmp_path / "digits.npy"), "--space", "pixel",
                 "--steps", "5", "--out", str(npz)]) == 0
    assert np.load(npz)["z"].shape == (2, 16)


def test_commands_refuse_unconditional_runs_and_missing_encoders(tmp_path, capsys):
    plain = tmp_path / "plain"
    api.train(config=tiny_config("train.epochs=1", "train.max_steps=2"), out=plain,
              progress=False)
    assert main(["train-encoder", str(plain), "--steps", "2"]) == 2
    assert "unconditional generator" in capsys.readouterr().err
    cond = tmp_path / "cond"
    api.train(config=tiny_config("train.epochs=1", "train.max_steps=2", "condition.classes=10"),
              out=cond, progress=False)
    np.save(tmp_path / "x.npy", np.zeros((8, 8), np.float32))
    assert main(["transfer", str(cond), str(tmp_path / "x.npy"), "--to", "1",
                 "--out", str(tmp_path / "t.png")]) == 2
    assert "gankit train-encoder" in capsys.readouterr().err
    assert not (tmp_path / "t.png").exists()


def test_sample_command_draws_one_class(run, tmp_path):
    assert main(["sample", str(run), "-n", "4", "--class", "3", "--npy",
                 str(tmp_path / "s.npy")]) == 0
    g = api.load_generator(run)
    expected = api.sample(g, 4, seed=0, labels=[3])
    assert np.allclose(np.load(tmp_path / "s.npy"), expected.numpy())
