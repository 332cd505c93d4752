import os
import signal

import pytest
import torch
from helpers import assert_resume_is_bit_identical, tiny_config, weights

from gankit.api import load_generator, resume, sample, train
from gankit.config import merge
from gankit.errors import CheckpointError, ConfigError, DivergenceError, GankitError
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics


@pytest.mark.parametrize("schedule", ["simultaneous", "alternating"])
def test_resume_is_bit_identical(tmp_path, schedule):
    sets = [f"game.schedule={schedule}", "train.epochs=2"]
    if schedule == "alternating":
        sets.append("game.d_steps=2")
    assert_resume_is_bit_identical(tmp_path, sets)


def test_resume_may_switch_the_step_and_nothing_else(tmp_path):
    """Switching speed.step mid-run continues the same update: the fused continuation stays
    within float32 rounding of the autograd one, and the switch is recorded."""
    import shutil

    train(config=tiny_config("speed.step='autograd'", "train.epochs=1"), out=tmp_path / "a",
          progress=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    before = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    with pytest.raises(GankitError, match=r"differs in optim.lr \(saved 0.1, given 0.5\)"):
        resume(tmp_path / "a", epochs=2, sets=["optim.lr=0.5"], progress=False)
    assert {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()} == before

    resume(tmp_path / "a", epochs=2, progress=False)
    resume(tmp_path / "b", epochs=2, sets=["speed.step='fused'"], progress=False)
    a, sa = weights(tmp_path / "a")
    b, sb = weights(tmp_path / "b")
    assert sa["config"]["speed"]["step"] == "autograd" and sb["config"]["speed"]["step"] == "fused"
    assert sa["step"] == sb["step"] > 0
    moved = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert 0 < moved < 1e-6  # other rounding, the same update
    resumed = [r for r in read_metrics(tmp_path / "b") if r.get("event") == "resumed"]
    assert resumed[-1]["speed"]["step"] == "fused"


def test_sigint_mid_epoch_checkpoints_and_resumes_bit_identical(tmp_path, monkeypatch):
    cfg = tiny_config("train.epochs=1")
    train(config=cfg, out=tmp_path / "whole", progress=False)
    (tmp_path / "split").mkdir()
    trainer = make_trainer(cfg, tmp_path / "split", progress=False)
    inner = trainer.step_fn

    def step_then_signal(*args):
        out = inner(*args)
        if trainer.step == 9:  # the 10th step is running
            os.kill(os.getpid(), signal.SIGINT)
        return out

    trainer.step_fn = step_then_signal
    before = signal.getsignal(signal.SIGINT)
    result = trainer.fit()
    assert result.stopped_by == signal.SIGINT and result.step == 10
    assert result.checkpoint.name == "epoch-0000-step-00000010"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    resume(tmp_path / "split", progress=False)
    a, _ = weights(tmp_path / "whole")
    b, _ = weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    events = [r.get("event") for r in read_metrics(tmp_path / "split")]
    assert "stopped" in events and "resumed" in events


def test_run_directory_contents(tmp_path):
    result = train(config=tiny_config("train.epochs=2"), out=tmp_path / "r", progress=False)
    run = result.run_dir
    assert {"config.toml", "run.json", "metrics.jsonl", "samples", "checkpoints"} <= {
        p.name for p in run.iterdir()}
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch-0001.png",
                                                                   "epoch-0002.png", "final.png"]
    rows = [r for r in read_metrics(run) if "d_loss" in r]
    assert {"step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "lr", "momentum",
            "samples_per_s"} <= rows[0].keys()
    assert rows[-1]["step"] == result.step == 2 * (1397 // 50)
    import json
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == 0 and info["versions"]["torch"] == torch.__version__


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(config=tiny_config("train.epochs=1", f"train.seed={seed}"), out=tmp_path / name,
              progress=False)
    a, b, c = (weights(tmp_path / n)[0]["G/out.weight"] for n in "abc")
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_existing_run_directory_is_never_overwritten(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "precious.txt").write_text("keep")
    with pytest.raises(GankitError, match="already exists and is not empty"):
        train(config=tiny_config("train.epochs=1"), out=run, progress=False)
    assert [p.name for p in run.iterdir()] == ["precious.txt"]


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = tiny_config("train.epochs=3")
    trainer = make_trainer(cfg, tmp_path, progress=False)
    objective = trainer.game.objective
    inner = objective.adversarial

    def poisoned(logits):
        loss = inner(logits)
        return loss * float("nan") if trainer.epoch >= 1 else loss

    objective.adversarial = poisoned
    with pytest.raises(DivergenceError, match="generator's .*epoch-0001 was kept") as info:
        trainer.fit()
    assert info.value.exit_code == 1
    good = ckpt.resolve(tmp_path)[0]
    assert good.name == "epoch-0001"
    tensors, _ = ckpt.read_checkpoint(good)
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if k[:2] in ("G/", "D/"))
    assert any(r.get("event") == "diverged" for r in read_metrics(tmp_path))


def test_checkpoint_of_another_model_is_refused(tmp_path):
    train(config=tiny_config("train.epochs=1"), out=tmp_path / "r", progress=False)
    other = merge(tiny_config(), {"model": {"g_hidden": [32, 32]}}, "test")
    path = ckpt.resolve(tmp_path / "r")[0]
    with pytest.raises(CheckpointError, match="does not fit this model"):
        make_trainer(other, tmp_path / "r", resume_from=path, progress=False)


def test_multi_value_rules():
    with pytest.raises(ConfigError, match="needs game.schedule = 'alternating'"):
        make_trainer(tiny_config("game.d_steps=2"), "unused", progress=False)
    with pytest.raises(ConfigError, match="exceeds the 1397 training images"):
        make_trainer(tiny_config("train.batch_size=5000"), "unused", progress=False)


def test_sample_api(tmp_path):
    train(config=tiny_config("train.epochs=1"), out=tmp_path / "r", progress=False)
    x = sample(tmp_path / "r", 2500, seed=3, batch_size=1000)
    assert x.shape == (2500, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, sample(tmp_path / "r", 2500, seed=3, batch_size=300))
    assert not torch.equal(x, sample(tmp_path / "r", 2500, seed=4))
    g = load_generator(tmp_path / "r")
    assert not g.training


def test_callbacks_see_logs_and_add_epoch_metrics_without_changing_theweights(tmp_path):
    from gankit.training.callbacks import Callback

    class Probe(Callback):
        def __init__(self):
            self.logs, self.ended = 0, False

        def on_log(self, trainer, record):
            self.logs += 1

        def on_epoch_end(self, trainer):
            with torch.no_grad():
                return {"probe": float(trainer.g.net(trainer.game.fixed_noise[:4]).mean())}

        def on_train_end(self, trainer):
            self.ended = True

    probe = Probe()
    (tmp_path / "a").mkdir()
    make_trainer(tiny_config("train.epochs=2"), tmp_path / "a", progress=False,
                 callbacks=[probe]).fit()
    train(config=tiny_config("train.epochs=2"), out=tmp_path / "b", progress=False)
    assert probe.ended and probe.logs >= 2 * (27 // 5)
    assert [r["epoch"] for r in read_metrics(tmp_path / "a") if "probe" in r] == [1, 2]
    a, _ = weights(tmp_path / "a")
    b, _ = weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
