"""Training the convolutional models end to end: batch norm keeps resume bit-exact and is not
disturbed by sample grids, DCGAN learns, and the CIFAR-10 and folder paths run through the
trainer and the CLI on synthetic data."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_data_cifar10 import _write_archive

from gankit import api
from gankit.cli import main
from gankit.config import build_config
from gankit.data import cifar10
from gankit.data import folder as folder_mod
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small nets: one thread is faster

TINY_DCGAN = ['data.name="digits"', "data.image_size=16", "model.g_width=8",
              "model.d_width=8", "model.noise_dim=16", "train.batch_size=50",
              "train.log_every=10", "train.sample_every=1", "train.checkpoint_every=1"]


def _tensors(run_dir):
    path, _ = ckpt.resolve(run_dir)
    return ckpt.read_checkpoint(path)[0]


def _dcgan(*sets):
    return build_config("dcgan-mnist", sets=[*TINY_DCGAN, *sets])


def test_batchnorm_resume_is_bit_exact_and_grids_change_nothing(tmp_path):
    straight = api.train(config=_dcgan("train.epochs=2"), out=tmp_path / "a", progress=False)
    api.train(config=_dcgan("train.epochs=1"), out=tmp_path / "b", progress=False)
    resumed = api.resume(tmp_path / "b", epochs=2, progress=False)
    no_grids = api.train(config=_dcgan("train.epochs=2", "train.sample_every=0"),
                         out=tmp_path / "c", progress=False)
    assert straight.step == resumed.step == no_grids.step == 2 * (1397 // 50)
    a, b, c = (_tensors(tmp_path / r) for r in "abc")
    assert any("running_mean" in k for k in a)  # batch-norm statistics are checkpointed
    for k in a:
        assert torch.equal(a[k], b[k]), k
        assert torch.equal(a[k], c[k]), k
    assert (tmp_path / "a" / "samples" / "epoch-0002.png").exists()


def test_grid_uses_eval_mode_and_restores_train_mode(tmp_path):
    trainer = make_trainer(_dcgan("train.epochs=1"), tmp_path, progress=False)
    before = {k: v.clone() for k, v in trainer.g.net.state_dict().items()}
    modes = []
    trainer.g.net.register_forward_pre_hook(lambda m, a: modes.append(m.training))
    trainer.write_samples()
    assert modes == [False] and trainer.g.net.training
    after = trainer.g.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    grid = np.asarray(Image.open(tmp_path / "samples" / "epoch-0000.png"))
    assert 60 < grid.mean() < 255  # tanh samples around 0 are shown as mid grey, not black


def test_dcgan_learns_digits(tmp_path):
    """Samples move towards the data: mean squared distance to the nearest training image."""
    torch.manual_seed(0)
    cfg = _dcgan("train.epochs=6", "train.sample_every=0", "train.checkpoint_every=6")
    trainer = make_trainer(cfg, tmp_path, progress=False)
    real = trainer.data.images.reshape(len(trainer.data), -1)

    def nn_distance():
        trainer.g.net.eval()
        with torch.no_grad():
            fake = trainer.g.net(trainer.game.fixed_noise).reshape(100, -1)
        trainer.g.net.train()
        return torch.cdist(fake, real).pow(2).min(1).values.mean().item()

    untrained = nn_distance()
    trainer.fit()
    trained = nn_distance()
    assert trained < 0.6 * untrained, (untrained, trained)


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    (tmp_path / "cifar10").mkdir()
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", _write_archive(tmp_path / "cifar10" /
                                                                cifar10.ARCHIVE))
    return tmp_path


def test_paper_cifar10_conv_end_to_end(cifar_root, tmp_path):
    cfg = build_config("paper-cifar10-conv", sets=[
        f"data.data_dir={str(cifar_root)!r}", "model.g_hidden=[32, 8000]",
        "train.batch_size=8", "train.max_steps=3", "train.log_every=1"])
    result = api.train(config=cfg, out=tmp_path / "run", progress=False)
    assert result.step == 3
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert all(np.isfinite(r["d_loss"]) for r in rows if "d_loss" in r)
    images = api.sample(tmp_path / "run", 4, seed=0)
    assert images.shape == (4, 3, 32, 32)
    assert main(["sample", str(tmp_path / "run"), "-n", "4", "--out",
                 str(tmp_path / "g.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "g.png")).shape[-1] == 3


def test_paper_cifar10_fc_trains_on_gcn_data(cifar_root, tmp_path):
    cfg = build_config("paper-cifar10-fc", sets=[
        f"data.data_dir={str(cifar_root)!r}", "model.g_hidden=[32, 32]",
        "model.d_units=[16, 16]", "train.batch_size=8", "train.max_steps=2"])
    trainer = make_trainer(cfg, tmp_path, progress=False)
    norms = trainer.data.images.reshape(len(trainer.data), -1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 55.0), rtol=1e-4)
    assert trainer.g.net.output == "linear" and (trainer.g.net.out.bias == 0).all()
    assert trainer.fit().step == 2


def test_dcgan_folder_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(folder_mod, "cache_root", lambda: tmp_path / "cache")
    images = tmp_path / "mine"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(
            images / f"{i}.png")
    (images / "bad.jpg").write_bytes(b"not a jpeg")
    run = tmp_path / "run"
    argv = ["train", "--preset", "dcgan-folder", "--out", str(run), "--quiet",
            "--set", f"data.path={str(images)!r}", "--set", "data.image_size=16",
            "--set", "model.g_width=4", "--set", "model.d_width=4",
            "--set", "train.batch_size=5", "--set", "train.epochs=1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "skipped 1 of 21 images" in err
    assert main(["sample", str(run), "-n", "9", "--out", str(tmp_path / "s.png"),
                 "--npy", str(tmp_path / "s.npy")]) == 0
    raw = np.load(tmp_path / "s.npy")
    assert raw.shape == (9, 3, 16, 16) and raw.min() >= -1 and raw.max() <= 1
    assert (run / "samples" / "epoch-0001.png").exists()
    digest = hashlib.sha256((tmp_path / "s.png").read_bytes()).hexdigest()
    assert main(["sample", str(run), "-n", "9", "--out", str(tmp_path / "t.png")]) == 0
    assert hashlib.sha256((tmp_path / "t.png").read_bytes()).hexdigest() == digest
    assert main(["train", "--preset", "dcgan-folder", "--out", str(tmp_path / "r2")]) == 2
    assert "set data.path" in capsys.readouterr().err
