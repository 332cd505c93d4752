"""The collapse monitor on by default where the data's modes are known: which data gets which
reader, MNIST's class histogram by the shipped classifier (a G replaying one class warns, one
replaying real test images does not), Stacked MNIST's triples, no number changed, and the
report's class-share plot and warning count."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from helpers import Replay

from gankit.api import monitor_callbacks, train
from gankit.config import build_config, load_config_toml
from gankit.data import load_dataset
from gankit.discogan.game import check_config
from gankit.errors import ConfigError
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics
from gankit.metrics.classifier import load_classifier
from gankit.report import load_run
from gankit.report.html import render
from gankit.training.mode_readers import DigitReader, MixtureReader
from gankit.training.monitor import AUTO_COLLAPSE_EVERY, CollapseMonitor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ["model.g_hidden=[32]", "model.d_units=[16]", "model.noise_dim=8", "train.batch_size=100",
         "train.log_every=2", "train.sample_every=0", "report.html=false"]
OLD_RUN = Path(__file__).parent / "pins" / "runs-0.1" / "paper-mlp-fused" / "config.toml"


def _monitor(preset: str, *sets: str) -> CollapseMonitor | None:
    found = monitor_callbacks(build_config(preset, sets=list(sets)))
    assert len(found) <= 1
    return found[0] if found else None


def test_auto_turns_the_monitor_on_exactly_where_a_reader_knows_the_modes():
    cfg = build_config("paper-mnist")
    assert cfg.monitor.collapse_every == -1 and cfg.monitor.collapse_samples == 500
    on = {p: _monitor(p) for p in ("paper-mnist", "dcgan-mnist", "cgan-mnist",
                                   "dcgan-stacked-mnist", "toy-ring8", "toy-grid25")}
    assert all(m is not None and m.every == AUTO_COLLAPSE_EVERY and m.samples == 500
               for m in on.values())
    assert isinstance(on["paper-mnist"].reader, DigitReader)
    assert on["paper-mnist"].reader.modes_total == 10
    assert on["dcgan-stacked-mnist"].reader.modes_total == 1000
    assert on["toy-grid25"].reader.modes_total == 25
    assert isinstance(on["toy-ring8"].reader, MixtureReader)
    # No reader (8x8 digits, RGB photos, MNIST resized), one mode, no noise (DiscoGAN): off.
    for preset, sets in (("paper-digits", []), ("dcgan-cifar10", []), ("figure1", []),
                         ("paper-mnist", ["data.image_size=32"]), ("discogan-toy", []),
                         ("discogan-mnist-invert", [])):
        assert _monitor(preset, *sets) is None, preset
    # Asked for explicitly: on anywhere, pixel diversity where no reader exists.
    explicit = _monitor("paper-digits", "monitor.collapse_every=7")
    assert explicit.every == 7 and explicit.reader is None
    assert _monitor("paper-mnist", "monitor.collapse_every=0") is None


def test_old_runs_keep_the_monitor_off_and_discogan_refuses_only_an_explicit_request():
    assert "collapse_every = 0" in OLD_RUN.read_text()
    assert monitor_callbacks(load_config_toml(OLD_RUN)) == []
    check_config(build_config("discogan-toy"), distributed=False)  # the default passes
    with pytest.raises(ConfigError, match="monitor.collapse_every"):
        check_config(build_config("discogan-toy", sets=["monitor.collapse_every=5"]), False)
    with pytest.raises(ConfigError, match=r"monitor.collapse_every = -2 is out of range"):
        build_config("paper-mnist", sets=["monitor.collapse_every=-2"])


@pytest.fixture(scope="module")
def digits(mnist_root):
    """Per digit 0..9, 20 test images labelled so that the shipped classifier reads as so."""
    test = load_dataset("mnist", "test", mnist_root)
    x, y = test.images[:2000], test.labels[:2000]
    with torch.no_grad():
        ok = load_classifier()(x).argmax(1) == y
    return {d: x[ok & (y == d)][:20] for d in range(10)}


def test_class_histogram_by_hand(digits):
    reader = DigitReader()
    x = torch.cat([digits[1][:6], digits[7][:2], digits[0][:2]])
    m = reader.read(x * 2 - 1, "tanh")  # a tanh G's samples are mapped to [0, 1] first
    assert m["class_shares"] == [0.2, 0.6, 0, 0, 0, 0, 0, 0.2, 0, 0]
    assert (m["top_class"], m["top_share"], m["modes_covered"]) == (1, 0.6, 3)
    want = 0.6 * math.log(6) + 2 * 0.2 * math.log(2)  # sum p log(10 p)
    assert m["kl_to_uniform"] == pytest.approx(want, rel=1e-12)
    assert reader.collapse(m) == (("top", 1), "one class 1 holds 60% of samples (KL to "
                                              f"uniform {want:.2f})")
    # Six classes used evenly: no class above half, but KL log(10/6) = 0.51 > 0.5.
    even = reader.read(torch.cat([digits[d][:2] for d in range(6)]), "sigmoid")
    assert even["kl_to_uniform"] == pytest.approx(math.log(10 / 6))
    assert reader.collapse(even)[0] == "kl"
    seven = reader.read(torch.cat([digits[d][:2] for d in range(7)]), "sigmoid")
    assert reader.collapse(seven) is None  # log(10/7) = 0.36


def test_stacked_reader_counts_triples(digits):
    reader = DigitReader(3)
    ones = torch.cat([digits[1][i:i + 3].reshape(1, 3, 28, 28) for i in range(10)])
    m = reader.read(ones, "sigmoid")
    assert (m["modes_covered"], m["top_share"]) == (1, 1.0)
    assert m["kl_to_uniform"] == pytest.approx(math.log(1000))
    assert m["modes_expected"] == pytest.approx(1000 * (1 - 0.999 ** 10))
    assert reader.collapse(m)[0] == ("top", None)
    mixed = torch.stack([torch.cat([digits[i][0], digits[(i + 3) % 10][1],
                                    digits[(i + 5) % 10][2]]) for i in range(10)])
    m = reader.read(mixed, "sigmoid")
    assert m["modes_covered"] == 10 and m["top_share"] == 0.1 and reader.collapse(m) is None


def test_mnist_monitor_warns_on_one_class_and_not_on_real_images(mnist_root, tmp_path, capsys):
    (tmp_path / "r").mkdir()
    cfg = build_config("paper-mnist", sets=[*SMALL, f'data.data_dir="{mnist_root}"'])
    trainer = make_trainer(cfg, tmp_path / "r", progress=False)
    monitor = monitor_callbacks(cfg)[0]
    test = load_dataset("mnist", "test", mnist_root)
    state = torch.get_rng_state()  # loading the classifier and reading draw nothing global
    for step, images in ((250, test.images[:3000]), (500, test.images[test.labels == 1]),
                         (750, test.images[test.labels == 1]), (1000, test.images[:3000])):
        trainer.g.net, trainer.step = Replay(images), step
        monitor.on_log(trainer, {})
    assert torch.equal(state, torch.get_rng_state())
    err = capsys.readouterr().err
    rows = [r for r in read_metrics(trainer.run_dir) if r.get("monitor") == "collapse"]
    assert [r["step"] for r in rows] == [250, 500, 750, 1000]
    real, ones = rows[0], rows[1]
    assert real["top_share"] < 0.2 and real["kl_to_uniform"] < 0.05  # 500 draws, far below 0.5
    assert sum(real["class_shares"]) == pytest.approx(1, abs=1e-3)
    assert ones["top_class"] == 1 and ones["top_share"] > 0.98
    # One warning when G turns to ones (not again while it stays there), a note on recovery.
    assert err.count("warning") == 1
    assert "possible mode collapse at step 500: one class 1 holds" in err
    assert "at step 1000 the collapse monitor sees no collapse any more" in err
    events = [(r["event"], r["step"]) for r in read_metrics(trainer.run_dir) if "event" in r]
    assert events == [("collapse_warning", 500), ("monitor_recovered", 1000)]


def test_the_default_monitor_changes_no_number_on_mnist(mnist_root, tmp_path):
    sets = [*SMALL, f'data.data_dir="{mnist_root}"', "train.max_steps=6", "train.epochs=1",
            "monitor.collapse_samples=50"]
    plain = train("paper-mnist", sets=[*sets, "monitor.collapse_every=0"], out=tmp_path / "a",
                  progress=False)
    seen = train("paper-mnist", sets=[*sets, "monitor.collapse_every=2"], out=tmp_path / "b",
                 progress=False)
    a = ckpt.read_checkpoint(ckpt.resolve(plain.run_dir)[0])[0]
    b = ckpt.read_checkpoint(ckpt.resolve(seen.run_dir)[0])[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [r for r in read_metrics(seen.run_dir) if r.get("monitor") == "collapse"]
    assert [r["step"] for r in rows] == [2, 4, 6] and len(rows[0]["class_shares"]) == 10


def test_report_draws_the_class_shares_and_counts_the_monitors_warnings(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(build_config("paper-mnist").to_toml())
    shares = [[0.0] * 8 + [1.0, 0.0], [0.1] * 10]
    lines = [{"step": 10, "epoch": 1, "d_loss": 0.7, "g_loss": 0.7, "time": 1.0},
             {"step": 250, "epoch": 1, "monitor": "collapse", "top_class": 8, "top_share": 1.0,
              "modes_total": 10, "class_shares": shares[0]},
             {"event": "collapse_warning", "step": 250, "epoch": 1, "message": "one class 8"},
             {"step": 500, "epoch": 1, "monitor": "collapse", "top_class": 0, "top_share": 0.1,
              "modes_total": 10, "class_shares": shares[1]},
             {"event": "monitor_recovered", "step": 500, "epoch": 1}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    data = load_run(run)
    steps, got = data.class_shares()
    assert steps.tolist() == [250, 500] and got.tolist() == shares
    assert data.metric_keys == ["top_share"]  # the class label and the constant are no curves
    page = render([data])
    assert "<strong>1 warning</strong>" in page  # the recovery is a note, not a warning
    assert re.findall(r'id="curve-([\w.-]+)"', page)[-1] == "class-shares"
    # A run without the classifier's lines (a toy run, an old run) has no such plot.
    (run / "metrics.jsonl").write_text(json.dumps(lines[0]) + "\n")
    steps, got = load_run(run).class_shares()
    assert steps.shape == (0,) and got.shape == (0, 0)
    assert 'id="curve-class-shares"' not in render([load_run(run)])
