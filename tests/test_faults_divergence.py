"""Divergence: stop keeping the last good checkpoint, or roll back with a lower learning rate."""

import pytest
import torch
from helpers import tiny_config

from gankit.errors import DivergenceError
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics


def _poisoned_trainer(run, *sets, times):
    """A trainer whose generator loss turns NaN mid-epoch 2, ``times`` times in all."""
    run.mkdir()
    trainer = make_trainer(tiny_config("train.epochs=3", *sets), run, progress=False)
    objective = trainer.game.objective
    inner, left = objective.adversarial, [times]

    def g_loss(logits):
        loss = inner(logits)
        if trainer.epoch == 1 and trainer.batch_in_epoch == 10 and left[0] > 0:
            left[0] -= 1
            return loss * float("nan")
        return loss

    objective.adversarial = g_loss
    return trainer


def test_rollback_reloads_the_last_good_checkpoint_and_halves_the_learning_rate(tmp_path):
    trainer = _poisoned_trainer(tmp_path / "r", "divergence.action='rollback'", times=1)
    result = trainer.fit()
    assert result.epoch == 3 and result.step == 3 * 27
    (event,) = [r for r in read_metrics(tmp_path / "r") if r.get("event") == "rolled_back"]
    assert event["step"] == 27 and event["checkpoint"] == "epoch-0001"
    assert 27 < event["diverged_step"] <= 27 + 15
    tensors, state = ckpt.read_checkpoint(ckpt.resolve(tmp_path / "r")[0])
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if k[:2] in ("G/", "D/"))
    # Saved in the checkpoint, so a later resume keeps the lower rate.
    assert state["lr_G"]["base_lrs"] == state["lr_D"]["base_lrs"] == [0.1 * 0.5]
    assert trainer.d.lr == pytest.approx(0.05 / 1.000004 ** (3 * 27), rel=1e-9)


def test_rollback_gives_up_after_max_rollbacks(tmp_path):
    trainer = _poisoned_trainer(tmp_path / "r", "divergence.action='rollback'",
                                "divergence.max_rollbacks=2", "divergence.lr_factor=0.1",
                                times=99)
    with pytest.raises(DivergenceError, match="generator's .* gave up after 2 roll-backs") \
            as info:
        trainer.fit()
    assert info.value.exit_code == 1
    assert ckpt.resolve(tmp_path / "r")[0].name == "epoch-0001"
    events = [r["event"] for r in read_metrics(tmp_path / "r") if "event" in r]
    assert events.count("rolled_back") == 2 and events[-1] == "diverged"
    assert trainer.g.lr == pytest.approx(0.1 * 0.1**2, rel=1e-3)  # lowered twice, by 0.1 each


def test_the_default_stops_and_names_step_and_player(tmp_path):
    trainer = _poisoned_trainer(tmp_path / "r", times=1)
    with pytest.raises(DivergenceError, match=r"diverged at step 3\d \(epoch 2\): the "
                                              "generator's loss .*epoch-0001 was kept"):
        trainer.fit()
