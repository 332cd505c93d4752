"""The EMA generator (train.ema): its recursion, warm-up, checkpoint, resume and its readers."""

import json
from fractions import Fraction

import pytest
import torch
from helpers import tiny_config
from torch import nn

import gankit
from gankit.api import resume, train
from gankit.cli import main as cli_main
from gankit.errors import ConfigError, GankitError
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt
from gankit.io.metrics_log import read_metrics
from gankit.metrics.evaluate import evaluate_checkpoint
from gankit.report.data import load_run
from gankit.report.html import render
from gankit.sampling import generator_kind, load_generator
from gankit.training.ema import GeneratorEMA, warmup_decay

EMA = ["train.ema=0.999"]


class _Tiny(nn.Module):
    """One weight and one batch-norm layer, so that parameters and buffers are both seen."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.bn = nn.BatchNorm1d(3)


def _set(net: _Tiny, value: float) -> None:
    with torch.no_grad():
        net.w.fill_(value)
        net.bn.running_mean.fill_(10 * value)


def _run_ema(decay: float, warmup: bool, weights: list[float]) -> tuple[GeneratorEMA, _Tiny]:
    g = _Tiny()
    _set(g, weights[0])
    ema = GeneratorEMA(g, decay, warmup)
    for t, w in enumerate(weights[1:], start=1):
        _set(g, w)
        ema.update(g, t)
    return ema, g


def _reference(decay: float, warmup: bool, weights: list[float]) -> Fraction:
    """The recursion in exact arithmetic: e_0 = w_0, e_t = d_t e_(t-1) + (1 - d_t) w_t."""
    e = Fraction(weights[0])
    for t, w in enumerate(weights[1:], start=1):
        d = Fraction(decay) if not warmup else min(Fraction(decay), Fraction(1 + t, 10 + t))
        e = d * e + (1 - d) * Fraction(w)
    return e


def test_three_updates_without_warmup_are_the_hand_computed_average():
    ema, g = _run_ema(0.5, False, [1.0, 2.0, 4.0, 8.0])
    # 1 -> 0.5 * 1 + 0.5 * 2 = 1.5 -> 0.5 * 1.5 + 0.5 * 4 = 2.75 -> 0.5 * 2.75 + 0.5 * 8 = 5.375
    assert torch.equal(ema.net.w, torch.full((3,), 5.375))
    # Buffers are copied, not averaged; G itself is untouched.
    assert torch.equal(ema.net.bn.running_mean, torch.full((3,), 80.0))
    assert torch.equal(g.w, torch.full((3,), 8.0))


def test_three_updates_with_warmup_match_the_exact_reference():
    weights = [1.0, 2.0, 4.0, 8.0]
    ema, _ = _run_ema(0.999, True, weights)
    # d_1 = 2/11, d_2 = 3/12, d_3 = 4/13: e_3 = 944/143 (the warm-up's decays, not 0.999)
    assert _reference(0.999, True, weights) == Fraction(944, 143)
    assert torch.allclose(ema.net.w.double(), torch.full((3,), 944 / 143, dtype=torch.float64),
                          rtol=1e-7, atol=0)


def test_random_weights_follow_the_float64_recursion():
    torch.manual_seed(0)
    g = nn.Linear(5, 4)
    ema = GeneratorEMA(g, 0.9, warmup=True)
    ref = [p.detach().double().clone() for p in g.parameters()]
    for t in range(1, 30):
        with torch.no_grad():
            for p in g.parameters():
                p.add_(torch.randn_like(p))
        ema.update(g, t)
        d = min(0.9, (1 + t) / (10 + t))
        ref = [d * r + (1 - d) * p.detach().double() for r, p in
               zip(ref, g.parameters(), strict=True)]
    for mine, r in zip(ema.net.parameters(), ref, strict=True):
        assert torch.allclose(mine.double(), r, rtol=0, atol=1e-5)


def test_warmup_decay():
    assert warmup_decay(0.999, 1) == pytest.approx(2 / 11)
    assert warmup_decay(0.999, 90) == pytest.approx(91 / 100)
    # (1 + t) / (10 + t) reaches 0.999 at t = 8990; from there the decay is the configured one.
    assert warmup_decay(0.999, 8989) < 0.999 == warmup_decay(0.999, 8990)
    assert warmup_decay(0.999, 10**6) == 0.999
    assert warmup_decay(0.5, 1) == pytest.approx(2 / 11) and warmup_decay(0.5, 9) == 0.5
    ema = GeneratorEMA(nn.Linear(1, 1), 0.99, warmup=False)
    assert ema.decay_at(1) == 0.99 and not ema.net.weight.requires_grad


def test_config_range_is_checked():
    for bad in ("train.ema=1.0", "train.ema=-0.1"):
        with pytest.raises(ConfigError, match=r"train.ema = .* is out of range; need 0 <= ema < 1"):
            tiny_config(bad)
    assert tiny_config().train.ema == 0.0 and tiny_config().train.ema_warmup is True


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ema") / "run"
    train(config=tiny_config("train.epochs=2", *EMA), out=out, progress=False)
    return out


def _tensors(run_dir):
    return ckpt.read_checkpoint(ckpt.resolve(run_dir)[0])


def test_ema_changes_no_training_number(ema_run, tmp_path):
    train(config=tiny_config("train.epochs=2"), out=tmp_path / "plain", progress=False)
    a, sa = _tensors(tmp_path / "plain")
    b, sb = _tensors(ema_run)
    trained = [k for k in a if k.startswith(("G/", "D/", "opt_", "rng/"))]
    assert len(trained) > 10 and all(torch.equal(a[k], b[k]) for k in trained)
    assert not any(k.startswith("G_ema/") for k in a)
    averaged = {k[len("G_ema/"):]: v for k, v in b.items() if k.startswith("G_ema/")}
    raw = {k[len("G/"):]: v for k, v in b.items() if k.startswith("G/")}
    assert averaged.keys() == raw.keys()
    assert all(not torch.equal(averaged[k], raw[k]) for k in raw)  # an average, not a copy
    assert sb["config"]["train"]["ema"] == 0.999


def test_resume_with_ema_is_bit_identical(ema_run, tmp_path):
    split = tmp_path / "split"
    train(config=tiny_config("train.epochs=1", *EMA), out=split, progress=False)
    with pytest.raises(GankitError, match=r"differs in train.ema \(saved 0.999, given 0.5\)"):
        resume(split, epochs=2, sets=["train.ema=0.5"], progress=False)
    resume(split, epochs=2, progress=False)
    a, sa = _tensors(ema_run)
    b, sb = _tensors(split)
    kept = [k for k in a if k.startswith(("G/", "D/", "G_ema/", "op"))]
    assert a.keys() == b.keys() and any(k.startswith("G_ema/") for k in kept)
    assert all(torch.equal(a[k], b[k]) for k in kept)
    assert sa["step"] == sb["step"] and sb["epoch"] == 2


def test_a_checkpoint_without_ema_starts_the_average_at_g(tmp_path):
    train(config=tiny_config("train.epochs=1"), out=tmp_path / "r", progress=False)
    path = ckpt.resolve(tmp_path / "r")[0]
    trainer = make_trainer(tiny_config("train.epochs=2", *EMA), tmp_path / "r",
                           resume_from=path, progress=False)
    g, avg = trainer.g.net.state_dict(), trainer.ema.net.state_dict()
    assert trainer.step > 0 and all(torch.equal(g[k], avg[k]) for k in g)


def test_every_step_updates_the_average_once_alternating(tmp_path, monkeypatch):
    seen = []
    original = GeneratorEMA.update
    monkeypatch.setattr(GeneratorEMA, "update",
                        lambda self, g, t: (seen.append(t), original(self, g, t)))
    result = train(config=tiny_config("train.epochs=1", "game.schedule='alternating'",
                                      "game.d_steps=2", *EMA), out=tmp_path / "r", progress=False)
    assert result.step > 1 and seen == list(range(1, result.step + 1))


def test_samples_come_from_the_average_unless_raw(ema_run, tmp_path):
    tensors, _ = _tensors(ema_run)
    ema, raw = load_generator(ema_run), load_generator(ema_run, raw=True)
    name = next(k for k in tensors if k.startswith("G/"))[2:]
    assert torch.equal(ema.state_dict()[name], tensors["G_ema/" + name])
    assert torch.equal(raw.state_dict()[name], tensors["G/" + name])
    assert generator_kind(tensors) == "ema" and generator_kind(tensors, raw=True) == "raw"
    a = gankit.sample(ema_run, 8, seed=1)
    assert torch.equal(a, gankit.sample(ema, 8, seed=1))
    assert torch.equal(gankit.sample(ema_run, 8, seed=1, raw=True), gankit.sample(raw, 8, seed=1))
    assert not torch.equal(a, gankit.sample(raw, 8, seed=1))
    assert cli_main(["sample", str(ema_run), "-n", "4", "--raw", "--npy",
                     str(tmp_path / "raw.npy")]) == 0
    import numpy as np

    assert np.array_equal(np.load(tmp_path / "raw.npy"), gankit.sample(raw, 4, seed=0).numpy())


def test_evaluate_names_the_generator_and_keeps_raw_apart(ema_run):
    report, path = evaluate_checkpoint(ema_run, "parzen", n_samples=100, progress=False)
    raw, raw_path = evaluate_checkpoint(ema_run, "parzen", n_samples=100, progress=False,
                                        raw=True)
    assert report["generator"] == "ema" and raw["generator"] == "raw"
    assert raw_path == path.with_name(path.stem + "-raw.json") and path.exists()
    assert report["results"][0]["value"] != raw["results"][0]["value"]


def test_grids_periodic_evaluation_and_report_show_the_average(tmp_path):
    out = tmp_path / "r"
    train(config=tiny_config("train.epochs=1", *EMA, "eval.every=1", "eval.samples=100"),
          out=out, progress=False)
    assert (out / "samples" / "epoch-0001.png").exists()
    assert (out / "samples" / "epoch-0001-raw.png").exists()
    (line,) = [r for r in read_metrics(out) if "eval_parzen" in r]
    assert line["eval_generator"] == "ema"
    # The logged score is that of the EMA generator's samples, as `gankit evaluate` draws them.
    report, _ = evaluate_checkpoint(out, "parzen", n_samples=100, progress=False)
    assert report["results"][0]["value"] == pytest.approx(line["eval_parzen"], abs=1e-9)
    run = load_run(out)
    assert [e for e, _ in run.samples] == [e for e, _ in run.raw_samples] == [1]
    assert run.summary()["samples drawn from"] == "EMA generator (decay 0.999, warm-up)"
    page = render([run])
    assert "EMA generator (decay 0.999, warm-up)" in page and "raw G, epoch 1" in page
    assert json.loads((out / "eval" / "epoch-0001.json").read_text())["generator"] == "ema"


def test_discogan_keeps_an_average_of_both_maps(tmp_path):
    from gankit.config import build_config
    from gankit.discogan.scoring import load_translators

    sets = ["discogan.hidden=[16]", "train.batch_size=100", "train.epochs=1",
            "train.max_steps=3", "report.html=false", *EMA]
    run = train(config=build_config("discogan-toy", sets=sets), out=tmp_path / "r",
                progress=False)
    tensors, _ = _tensors(run.run_dir)
    for raw, prefix in ((False, "G_ema/"), (True, "G/")):
        g, _ = load_translators(run.run_dir, raw=raw)
        saved = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        assert {"ab", "ba"} <= {k.split(".")[0] for k in saved}
        assert all(torch.equal(v, saved[k]) for k, v in g.state_dict().items())
    trainer = make_trainer(build_config("discogan-toy", sets=sets), run.run_dir,
                           resume_from=run.checkpoint, progress=False)
    path = trainer.write_samples("grid")
    assert path.exists() and path.with_name("grid-raw.png").exists()


def test_two_processes_keep_the_one_process_average(tmp_path):
    """Each rank keeps its own average; rank 1's is used too, for its share of the evaluation
    samples, so the gathered score matches one process only if both ranks' averages do."""
    import os
    import subprocess
    import sys

    from helpers import TINY

    sets = ["train.epochs=1", "train.sample_every=0", "eval.every=1", "eval.metrics='parzen'",
            "eval.samples=301", *EMA]
    train(config=tiny_config(*sets), out=tmp_path / "one", progress=False)
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60"}
    args = [a for s in (*TINY, *sets) for a in ("--set", s)]
    two = subprocess.run([sys.executable, "-m", "gankit", "train", "--nproc", "2", "--preset",
                          "paper-digits", "--out", str(tmp_path / "two"), "--quiet", *args],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr
    a, b = (_tensors(tmp_path / d)[0] for d in ("one", "two"))
    averaged = [k for k in a if k.startswith("G_ema/")]
    assert averaged and max(float((a[k] - b[k]).abs().max()) for k in averaged) < 1e-5
    (la,), (lb,) = ([r for r in read_metrics(tmp_path / d) if "eval_parzen" in r]
                    for d in ("one", "two"))
    assert la["eval_generator"] == lb["eval_generator"] == "ema"
    assert lb["eval_parzen"] == pytest.approx(la["eval_parzen"], rel=1e-5, abs=1e-6)
