"""Toy models train through the ordinary Trainer; the collapse monitor and `gankit figure1`."""

import json

import numpy as np
import pytest
import torch
from helpers import Replay, tiny_config
from PIL import Image

from gankit.api import load_generator, train
from gankit.cli import main
from gankit.config import build_config
from gankit.data.toy import ring
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics
from gankit.training.monitor import CollapseMonitor, mean_pairwise_distance

RING = ["train.epochs=1", "train.batch_size=200", "train.log_every=25", "train.sample_every=1",
        "model.g_hidden=[32, 32]", "model.d_units=[32, 32]", "optim.lr=0.003"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small nets: one thread is faster


def _ring_distance(g) -> float:
    x = g.sample(1000, torch.Generator().manual_seed(5)).double()
    return float((x.norm(dim=1) - 2.0).abs().mean())


def test_ring_gan_learns_and_the_monitor_changes_nothing(tmp_path, capsys):
    cfg = build_config("toy-ring8", sets=RING)
    (tmp_path / "untrained").mkdir()
    untrained = make_trainer(cfg, tmp_path / "untrained", progress=False).g.net
    plain = train(config=cfg, out=tmp_path / "plain", progress=False)
    monitored = train(config=build_config("toy-ring8", sets=[
        *RING, "monitor.collapse_every=50", "monitor.collapse_samples=500"]),
        out=tmp_path / "monitored", progress=False)
    # 100 steps pull G's samples from near the origin towards the circle of radius 2
    # (mean distance to it measured 1.86 -> 1.44).
    before, after = _ring_distance(untrained), _ring_distance(load_generator(plain.run_dir))
    assert after < 0.85 * before
    assert (plain.run_dir / "samples" / "epoch-0001.png").stat().st_size > 1000
    # The monitor logs its measurements but draws no global randomness: same weights.
    a = ckpt.read_checkpoint(ckpt.resolve(plain.run_dir)[0])[0]
    b = ckpt.read_checkpoint(ckpt.resolve(monitored.run_dir)[0])[0]
    assert all(torch.equal(a[k], b[k]) for k in a if k[:2] in ("G/", "D/"))
    rows = [r for r in read_metrics(monitored.run_dir) if r.get("monitor") == "collapse"]
    assert [r["step"] for r in rows] == [50, 100]
    assert rows[0]["modes_total"] == 8 and 0 <= rows[0]["modes_covered"] <= 8
    assert {"high_quality", "kl_to_uniform"} <= rows[0].keys()
    # A warning exactly when a measurement misses modes (this count is run-dependent).
    assert ("possible mode collapse at step 50" in capsys.readouterr().err) == (
        rows[0]["modes_covered"] < 8)


def test_mean_pairwise_distance_by_hand():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])  # pair distances 5, 4, 3
    assert mean_pairwise_distance(x) == pytest.approx(4.0)


def test_diversity_on_images_is_one_for_real_images_and_warns_near_zero(tmp_path, capsys):

    (tmp_path / "r").mkdir()
    trainer = make_trainer(tiny_config("train.epochs=1"), tmp_path / "r", progress=False)
    monitor = CollapseMonitor(every=1, samples=300)
    g = trainer.g.net
    trainer.g.net = Replay(trainer.game.images)
    assert monitor.measure(trainer)["diversity"] == pytest.approx(1.0, abs=0.05)
    # The paper's G at initialisation (weights U(+-0.05), bias at the pixel means) draws
    # nearly the same image for every z: the monitor sees that as collapse.
    trainer.g.net = g
    state = torch.get_rng_state()
    monitor.on_log(trainer, {"step": 0})  # step 0: not due yet
    trainer.step = 1
    monitor.on_log(trainer, {"step": 1})
    assert torch.equal(state, torch.get_rng_state())
    rows = [r for r in read_metrics(trainer.run_dir) if r.get("monitor") == "collapse"]
    assert len(rows) == 1 and rows[0]["diversity"] < 0.05
    assert "possible mode collapse at step 1: sample diversity 0.00" in capsys.readouterr().err


def test_mode_monitor_warns_on_a_collapsed_generator_and_not_on_a_healthy_one(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    trainer = make_trainer(build_config("toy-ring8", sets=RING), tmp_path / "r", progress=False)
    modes = trainer.data.distribution.modes
    near = (trainer.game.images[:, None, :].double() - torch.from_numpy(modes)).norm(dim=2)
    monitor = CollapseMonitor(every=1, samples=800)
    # Healthy: G replays the training points, which cover all 8 modes evenly.
    trainer.g.net = Replay(trainer.game.images)
    trainer.step = 1
    monitor.on_log(trainer, {})
    assert capsys.readouterr().err == ""
    # Collapsed: G draws only points of modes 0 and 3 (within 3 std), as a collapsed G would.
    trainer.g.net = Replay(trainer.game.images[(near[:, [0, 3]] < 0.3).any(1)])
    trainer.step = 2
    monitor.on_log(trainer, {})
    err = capsys.readouterr().err
    assert "possible mode collapse at step 2: 2 of 8 modes covered (100% of samples" in err
    rows = [r for r in read_metrics(trainer.run_dir) if r.get("monitor") == "collapse"]
    assert [(r["step"], r["modes_covered"]) for r in rows] == [(1, 8), (2, 2)]
    assert rows[0]["kl_to_uniform"] < 0.02  # 800 draws of an even spread
    assert rows[1]["kl_to_uniform"] == pytest.approx(np.log(4), abs=0.02)  # log 8 - log 2
    trainer.step = 3  # still collapsed: one warning per change of the count, not per step
    monitor.on_log(trainer, {})
    assert capsys.readouterr().err == ""


def test_figure1_short_run_ends_near_the_games_end_point(tmp_path):
    from gankit.paper.figure1 import make_figure1

    # The preset (k = 5 D steps per G step) for 400 G updates, a snapshot every 100.
    report = make_figure1(tmp_path / "f", ["train.epochs=20"], every=100, progress=False,
                          optimal_d_steps=50)
    assert report.steps == 400 and report.panel_steps[-1] == 400
    saved = json.loads((tmp_path / "f" / "figure1.json").read_text())
    assert saved["final_jsd"] == pytest.approx(report.final_jsd)
    # Measured for seed 0: JSD 0.040 nats, TV 0.17, mass-weighted E|D - 1/2| 0.029 and
    # E|D - D*| 0.064; bounds at about twice that. At initialisation p_g is a spike away from
    # p_data (JSD near log 2). Max |D - 1/2| over the 99% region is 0.43: G has not reached the
    # data's left tail yet, where D* = 1 (D* of this G is 0.5 from 1/2 there).
    assert report.final_jsd < 0.08 and report.final_tv < 0.3
    assert report.final_mean_abs_d_minus_half < 0.06
    assert report.final_mean_abs_d_minus_dstar < 0.12
    lo, hi = report.final_region
    assert lo < 2.0 < hi and hi - lo > 2.0  # around N(2, 0.5^2)'s mass, at least +-2 std
    g_lo, g_hi = report.final_g_support
    assert lo < g_lo < 2.0 < g_hi  # G has not reached the left end of the region yet
    gif = Image.open(tmp_path / "f" / "figure1.gif")
    assert gif.n_frames == 4  # a frame every 100 of 400 steps
    png = Image.open(tmp_path / "f" / "figure1.png")
    assert png.size[0] > 2 * png.size[1]  # four panels side by side


@pytest.mark.parametrize("bad, message", [
    ("model.noise_dim=2", "1-D uniform z"),
    ("data.name='ring8'", "needs 1-D data"),
])
def test_figure1_refuses_settings_it_cannot_draw(tmp_path, capsys, bad, message):
    assert main(["figure1", "--out", str(tmp_path / "f"), "--set", bad, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error:") and message in err
    assert not (tmp_path / "f").exists()


def test_sample_plot_of_the_true_distribution(tmp_path):
    from gankit.figures.game import save_decision_surface, save_sample_plot
    from gankit.nets.toy import ToyDiscriminator

    dist = ring()
    x = dist.sample(500, np.random.default_rng(0))
    assert save_sample_plot(x, dist, tmp_path / "s.png").stat().st_size > 1000
    d = ToyDiscriminator((2,), [8])
    assert save_decision_surface(d, dist, tmp_path / "d.png", x).stat().st_size > 1000


def test_toy_discriminator_relu_is_the_hand_computed_relu_mlp():
    from gankit.nets import build_discriminator

    cfg = build_config("toy-grid25", sets=["model.d_units=[3]", "model.d_activation='relu'"])
    d = build_discriminator(cfg.model, (2,)).double()
    w1, b1, w2, b2 = (p.detach() for p in d.parameters())
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-4.0, 4.0]], dtype=torch.float64)
    expected = (torch.clamp(x @ w1.T + b1, min=0) @ w2.T + b2).squeeze(1)
    torch.testing.assert_close(d(x), expected, rtol=0, atol=1e-12)
    tanh = build_discriminator(build_config("toy-grid25", sets=["model.d_units=[3]"]).model, (2,))
    assert isinstance(tanh.net[1], torch.nn.Tanh)


def test_toy_discriminator_activation_outside_the_list_is_one_clear_error(capsys):
    assert main(["train", "--preset", "toy-grid25", "--set", "model.d_activation='elu'",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "d_activation" in err and len(err.splitlines()) == 1
