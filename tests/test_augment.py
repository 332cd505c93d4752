"""data.augment (DiffAugment): each transform against a hand computation, gradients through
them, the shared random stream, and the checks of the config."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_resume_is_bit_identical, tiny_config

from gankit.config import build_config
from gankit.core.augment import adjust_color, augmentation, cut_out, translate
from gankit.errors import ConfigError
from gankit.games import build_game, make_trainer
from gankit.rng import Shard, shared_stream


def _images(n=2, c=3, h=6, w=5) -> torch.Tensor:
    return torch.arange(n * c * h * w, dtype=torch.float64).view(n, c, h, w) / 100


def test_translate_shifts_each_image_by_its_own_offset_with_zeros_entering():
    x = _images()
    out = translate(x, torch.tensor([2, -1]), torch.tensor([0, 3]))
    expect = torch.zeros_like(x)
    expect[0, :, :4, :] = x[0, :, 2:, :]  # out[r] = x[r + 2]: the image moves up by 2
    expect[1, :, 1:, :2] = x[1, :, :5, 3:]  # out[r, c] = x[r - 1, c + 3]
    assert torch.equal(out, expect)
    assert torch.equal(translate(x, torch.zeros(2, dtype=torch.long),
                                 torch.zeros(2, dtype=torch.long)), x)


def test_cut_out_zeroes_a_square_that_may_reach_past_the_border():
    x = _images() + 1
    out = cut_out(x, torch.tensor([1, -2]), torch.tensor([2, 4]), (3, 2))
    expect = x.clone()
    expect[0, :, 1:4, 2:4] = 0
    expect[1, :, 0:1, 4:5] = 0
    assert torch.equal(out, expect)


def test_adjust_color_matches_its_formula_per_image():
    x = _images()
    b, s, c = (torch.tensor([v1, v2], dtype=torch.float64).view(2, 1, 1, 1)
               for v1, v2 in ((0.1, -0.3), (0.5, 1.7), (1.2, 0.6)))
    out = adjust_color(x, b, s, c)
    for i in range(2):
        y = x[i] + b[i, 0]
        y = (y - y.mean(0)) * s[i, 0] + y.mean(0)
        y = (y - y.mean()) * c[i, 0] + y.mean()
        assert torch.allclose(out[i], y, atol=1e-12)
    grey = _images(c=1)  # one channel: saturation changes nothing
    assert torch.allclose(adjust_color(grey, 0 * b, s, 1 + 0 * c), grey, atol=1e-12)


def test_augmentation_is_differentiable_seeded_and_the_same_under_any_process_count():
    assert augmentation([]) is None
    augment = augmentation(["cutout", "translation", "color"])
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)

    def run(shard: Shard | None = None, rows=slice(None)):
        with shared_stream(torch.Generator().manual_seed(5), shard or Shard()):
            return augment(x[rows])

    a, b = run(), run()
    assert torch.equal(a, b) and not torch.equal(a, x)
    halves = torch.cat([run(Shard(r, 2), slice(4 * r, 4 * r + 4)) for r in range(2)])
    assert torch.equal(halves, a)  # two processes draw the one-process transforms
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    x.grad = None
    with shared_stream(torch.Generator().manual_seed(5)):  # without colour's image means,
        augmentation(["cutout", "translation"])(x).sum().backward()
    assert set(x.grad.unique().tolist()) == {0.0, 1.0}  # pixels cut or shifted out get none


def test_augment_reaches_the_objective_and_is_refused_where_it_cannot_apply(tmp_path):
    game = build_game(tiny_config('data.augment=["translation"]'), torch.device("cpu"))
    assert game.objective.augment is not None and not game.objective.plain
    assert build_game(tiny_config(), torch.device("cpu")).objective.augment is None
    with pytest.raises(ConfigError, match="data.augment transforms images; data.name = 'ring8'"):
        build_game(build_config("toy-ring8", sets=['data.augment=["cutout"]']),
                   torch.device("cpu"))
    with pytest.raises(ConfigError, match="data.augment"):
        tiny_config('data.augment=["rotate"]')
    with pytest.raises(ConfigError, match="'fused' implements the paper's game only, without "
                       "data.augment"):
        make_trainer(tiny_config('data.augment=["color"]', "speed.step='fused'"), tmp_path,
                     progress=False)
    with pytest.raises(ConfigError, match="data.augment is not supported by DiscoGAN"):
        build_game(build_config("discogan-toy", sets=['data.augment=["color"]']),
                   torch.device("cpu"))


def test_a_conditional_run_with_augment_and_r1_resumes_bit_identical(tmp_path, one_torch_thread):
    assert_resume_is_bit_identical(tmp_path, [
        'data.augment=["translation", "cutout"]', "condition.classes=10", "reg.r1=0.5",
        "train.batch_size=200", "train.epochs=2", "train.sample_every=0", "optim.name='adam'",
        "optim.lr=0.0005", "optim.lr_decay=1.0"])


def test_every_piece_the_config_accepts_has_a_transform_and_runs():
    from gankit.config import AUGMENT_PIECES
    from gankit.core import augment as module

    assert tuple(module._TRANSFORMS) == AUGMENT_PIECES
    for piece in AUGMENT_PIECES:
        x = torch.ones(2, 1, 8, 8)
        assert augmentation([piece])(x).shape == x.shape
