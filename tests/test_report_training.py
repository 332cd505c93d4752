"""The [report] callbacks on a real short run: the report and TensorBoard logs it leaves, and
weights identical to a run without them."""

import pytest
import torch
from helpers import tiny_config

from gankit.api import resume, train
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics
from gankit.training.callbacks import Callback

EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator").EventAccumulator

ALL = {"scalars": 0, "histograms": 0, "images": 0}  # keep every event (0: no sampling)


class Score(Callback):
    """A stand-in for an evaluation callback: one metric per epoch, no RNG."""

    def on_epoch_end(self, trainer):
        return {"score": trainer.epoch * 10.0}


def _weights(run_dir):
    tensors, _ = ckpt.read_checkpoint(ckpt.resolve(run_dir)[0])
    return {k: v for k, v in tensors.items() if k[:2] in ("G/", "D/")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    on = tiny_config("train.epochs=2", "report.html=true", "report.tensorboard=true")
    train(config=on, out=root / "viewed", progress=False, callbacks=[Score()])
    train(config=tiny_config("train.epochs=2"), out=root / "plain", progress=False)
    return root / "viewed", root / "plain"


def test_viewing_does_not_change_training(runs):
    viewed, plain = runs
    a, b = _weights(viewed), _weights(plain)
    assert a.keys() == b.keys() and len(a) > 10
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (viewed / "report.html").exists() and not (plain / "report.html").exists()
    assert not (plain / "tensorboard").exists()


def test_tensorboard_holds_scalars_metrics_images_and_histograms(runs):
    viewed, _ = runs
    acc = EventAccumulator(str(viewed / "tensorboard"), size_guidance=ALL).Reload()
    lines = [r for r in read_metrics(viewed) if "d_loss" in r]
    d_loss = acc.Scalars("train/d_loss")
    assert [e.step for e in d_loss] == [r["step"] for r in lines]
    assert [e.value for e in d_loss] == pytest.approx([r["d_loss"] for r in lines])
    assert [e.value for e in acc.Scalars("metrics/score")] == [10.0, 20.0]
    ends = [r["step"] for r in read_metrics(viewed) if r.get("event") == "epoch_end"]
    for tag in ("D_output/real", "D_output/fake"):
        hist = acc.Histograms(tag)
        assert [h.step for h in hist] == ends
        assert all(h.histogram_value.num == 500 for h in hist)  # 500 outputs per histogram
        assert all(0 <= h.histogram_value.min <= h.histogram_value.max <= 1 for h in hist)
    images = acc.Images("samples/fixed_noise")
    assert [i.step for i in images] == ends and images[0].width > 50


def test_report_of_the_run_shows_the_callbacks_metric(runs):
    viewed, _ = runs
    page = (viewed / "report.html").read_text()
    assert 'id="curve-metric-score"' in page and "20 (step" in page
    assert "data-epochs='[1, 2]'" in page


def test_resume_purges_tensorboard_events_of_the_lost_segment(tmp_path):
    cfg = tiny_config("train.epochs=1", "report.tensorboard=true", "report.html=false")
    train(config=cfg, out=tmp_path / "r", progress=False)
    resume(tmp_path / "r", epochs=2, progress=False)
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard"),
                           size_guidance=ALL).Reload()
    steps = [e.step for e in acc.Scalars("train/d_loss")]
    assert steps == sorted(set(steps))  # one value per step across both segments
    assert steps == [r["step"] for r in read_metrics(tmp_path / "r") if "d_loss" in r]


def test_tensorboard_on_a_conditional_run(tmp_path):
    cfg = tiny_config("train.epochs=1", "report.tensorboard=true", "report.html=false",
                      "condition.classes=10")
    train(config=cfg, out=tmp_path / "c", progress=False)
    acc = EventAccumulator(str(tmp_path / "c" / "tensorboard"), size_guidance=ALL).Reload()
    assert len(acc.Histograms("D_output/real")) == 1 and len(acc.Images("samples/fixed_noise")) == 1
