"""Each loss, regulariser and anti-collapse piece trains and resumes bit for bit, and moves the
numbers (it took effect); a short run per piece on the 8x8 digits."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_resume_is_bit_identical, tiny_config, weights

from gankit.api import train
from gankit.games import make_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# 1797 digits / 200 = 8 steps an epoch: 2 epochs cross one boundary, as the pins do
SHORT = ["train.batch_size=200", "train.epochs=2", "train.sample_every=0",
         "train.log_every=4", "optim.name='adam'", "optim.lr=0.0005", "optim.lr_decay=1.0"]

PIECES = {
    "hinge+r1-lazy+alternating": ["game.loss='hinge'", "reg.r1=1.0", "reg.every=2",
                                  "game.schedule='alternating'", "game.d_steps=2",
                                  "train.batch_size=100"],
    "lsgan+r2": ["game.loss='lsgan'", "reg.r2=0.5"],
    "wgan+gp": ["game.loss='wgan'", "reg.gp=10.0"],
    "rpgan": ["game.loss='rpgan'"],
    "spectral-norm": ["model.d_spectral_norm=true"],
    "label-smoothing": ["reg.label_smoothing=0.1"],
    "instance-noise": ["reg.instance_noise=0.1"],
    "ttur": ["optim.d_lr=0.002", "optim.g_beta1=0.0"],
    "pack": ["game.pack=4"],
    "minibatch-std": ["model.d_minibatch_std=4"],
    "augment": ['data.augment=["color", "translation", "cutout"]'],
}




@pytest.fixture(scope="module")
def plain_g(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain")
    train(config=tiny_config(*SHORT), out=out, progress=False)
    return {k: v for k, v in weights(out)[0].items() if k.startswith("G/")}


@pytest.mark.parametrize("piece", PIECES)
def test_piece_trains_and_resumes_bit_identical(tmp_path, piece, plain_g):
    sets = [*SHORT, *PIECES[piece]]
    assert_resume_is_bit_identical(tmp_path, sets)
    a, _ = weights(tmp_path / "whole")
    assert all(torch.isfinite(v).all() for v in a.values())
    # the piece took effect: G ends elsewhere than the plain run's G
    assert any(not torch.equal(a[k], v) for k, v in plain_g.items() if k in a)


def test_old_config_without_the_new_keys_loads_as_the_paper_game(tmp_path):
    """A run's config.toml written before game.loss / [reg] existed reads back as 'gan' with
    every regulariser off, and its trainer takes the fused step as before."""
    from gankit.config import load_config_toml

    text = tiny_config().to_toml()
    old = "\n".join(line for line in text.splitlines()
                    if not line.startswith(("loss =", "pack =", "d_spectral_norm", "d_minibatch",
                                            "g_lr", "d_lr", "g_beta", "d_beta")))
    old = old.split("[reg]")[0] + "[optim]" + old.split("[optim]")[1]
    (tmp_path / "config.toml").write_text(old)
    cfg = load_config_toml(tmp_path / "config.toml")
    assert cfg.game.loss == "gan" and cfg.reg.r1 == 0 and cfg.game.pack == 1
    (tmp_path / "run").mkdir()
    trainer = make_trainer(cfg, tmp_path / "run", progress=False)
    assert type(trainer.step_fn).__name__ == "FusedSimultaneousStep"
