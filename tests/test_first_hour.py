"""What a new user meets in their first hour: every run ends with a picture and says where its
files are, resuming accepts the original command line, errors come before any work."""

import subprocess
import sys

import pytest
from helpers import TINY, cli_sets, gankit

from gankit import api
from gankit.errors import DivergenceError
from gankit.training.callbacks import Callback


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """Two epochs with grids due every fifth: before, such a run drew no picture at all."""
    out = tmp_path_factory.mktemp("first") / "run"
    r = gankit("train", "--preset", "quickstart", "--epochs", "2", "--out", out, "--quiet",
               *cli_sets("train.sample_every=5", "report.html=true"))
    assert r.returncode == 0, r.stderr
    return out, r


def test_a_short_run_ends_with_a_final_grid_and_says_where_everything_is(short_run):
    out, r = short_run
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["final-raw.png", "final.png"]
    assert (out / "samples" / "final.png").stat().st_size > 100
    html = (out / "report.html").read_text()
    assert 'alt="run epoch 2"' in html and "No sample grids yet" not in html  # the final grid
    last = r.stdout.strip().splitlines()[-4:]
    assert last[0].split() == ["samples:", str(out / "samples" / "final.png")]
    assert last[1].split() == ["report:", str(out / "report.html")]
    assert last[2].split() == ["checkpoint:", str(out / "checkpoints" / "epoch-0002")]
    # 8x8 digits: no feature network reads them, so the command names the metric that does.
    assert last[3].split(None, 1) == ["evaluate:", f"gankit evaluate {out} --metrics parzen"]


def test_a_point_run_is_evaluated_with_the_metric_that_reads_points(tmp_path):
    out = tmp_path / "toy"
    r = gankit("train", "--preset", "toy-ring8", "--out", out, "--quiet",
               "--set", "train.max_steps=3", "--set", "report.html=false")
    assert r.returncode == 0, r.stderr
    assert (out / "samples" / "final.png").exists()  # the step budget ended it mid-epoch
    assert r.stdout.strip().splitlines()[-1].split(None, 1) == [
        "evaluate:", f"gankit evaluate {out} --metrics parzen"]


class _StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_log(self, trainer, record):
        if trainer.step >= self.step:
            trainer.request_stop()


def test_a_stopped_run_draws_its_final_grid_too(tmp_path):
    result = api.train("paper-digits", out=tmp_path / "r", sets=[*TINY, "train.sample_every=0"],
                       progress=False, callbacks=[_StopAt(5)])
    assert result.stopped_by is not None and result.epoch == 0  # mid-epoch, at no grid
    assert result.samples == tmp_path / "r" / "samples" / "final.png"
    assert [p.name for p in (tmp_path / "r" / "samples").iterdir()] == ["final.png"]


def test_a_diverged_run_draws_no_final_grid(tmp_path):
    with pytest.raises(DivergenceError):
        api.train("paper-digits", out=tmp_path / "r", progress=False,
                  sets=[*TINY, "train.sample_every=0", "optim.lr=1e30",
                        "optim.momentum_start=0.9", "optim.momentum_end=0.9"])
    assert not (tmp_path / "r" / "samples" / "final.png").exists()


# ----------------------------------------------------------------------------- --resume
def _files(run):
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_the_original_command_line_resumes_with_resume_added(short_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(short_run[0], copy)
    r = gankit("train", "--preset", "quickstart", "--epochs", "3", "--out", copy, "--quiet",
               *cli_sets("train.sample_every=5", "report.html=true", "speed.threads=1"),
               "--resume", copy)
    assert r.returncode == 0, r.stderr
    assert "trained 3 epochs" in r.stdout
    assert (copy / "checkpoints" / "epoch-0003").is_dir()


def test_a_real_difference_is_refused_naming_each_key_and_both_values(short_run):
    out = short_run[0]
    before = _files(out)
    r = gankit("train", "--preset", "quickstart", "--epochs", "2", "--out", out, "--quiet",
               "--seed", "4", *cli_sets("train.sample_every=5", "report.html=true",
                                     "optim.lr=0.5"), "--resume", out)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gankit: error: ")
    assert "differs in optim.lr (saved 0.0002, given 0.5); train.seed (saved 0, given 4);" \
        in r.stderr
    r = gankit("train", "--resume", out, "--out", out.parent / "elsewhere", "--quiet")
    assert r.returncode == 2 and "is not the run --resume" in r.stderr
    assert not (out.parent / "elsewhere").exists()
    assert _files(out) == before


def test_a_refused_resume_of_a_run_without_checkpoint_keeps_its_log(tmp_path):
    from gankit.errors import GankitError
    from gankit.io import metrics_log, resume, run_dir

    run = tmp_path / "run"
    run.mkdir()
    (run / run_dir.CONFIG).write_text("[train]\nseed = 7\n")
    (run / metrics_log.METRICS).write_text('{"step": 3}\n')
    with pytest.raises(GankitError, match=r"train.seed \(saved 7, given 8\)"):
        resume.resume_point(run, asked={"train.seed": 8, "train.batch_size": 100})
    assert (run / metrics_log.METRICS).read_text() == '{"step": 3}\n'
    path, cfg, _ = resume.resume_point(run, asked={"train.seed": 7})
    assert path is None and cfg.train.seed == 7


def test_asked_values_leave_out_what_a_resumed_run_may_change():
    from gankit.io.resume import asked_values, split_sets

    changes, matches = split_sets(["speed.threads=2", "train.epochs=9", "optim.lr=0.5"])
    assert changes == ["speed.threads=2", "train.epochs=9"] and matches == ["optim.lr=0.5"]
    assert asked_values(None, None, ["optim.lr=0.5", "train.seed=3"]) == {
        "optim.lr": 0.5, "train.seed": 3}
    whole = asked_values("paper-digits", None, [])
    assert whole["data.name"] == "digits" and whole["train.batch_size"] == 50
    assert not any(k.startswith("speed.") or k in ("train.epochs", "train.device")
                   for k in whole)


# ----------------------------------------------------------------------------- --nproc
@pytest.mark.parametrize("sets, fragment", [
    (["train.batch_size=7"], "train.batch_size = 7 is the global batch and must be divisible "
                             "by the 2 processes"),
    (["game.d_steps=0"], "game.d_steps = 0"),
    (["game.schedule=simultaneous", "game.d_steps=2"], "game.d_steps = 2 needs"),
])
def test_nproc_checks_the_config_before_any_worker_starts(sets, fragment, tmp_path):
    r = gankit("train", "--nproc", "2", "--preset", "paper-digits", "--out", tmp_path / "r",
               "--quiet", *[a for s in sets for a in ("--set", s)], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("gankit: error: ") and fragment in r.stderr
    assert not (tmp_path / "r").exists()


def test_nproc_refuses_an_unknown_preset_and_a_changed_resume_at_once(short_run, tmp_path):
    r = gankit("train", "--nproc", "2", "--preset", "nope", "--quiet", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown preset 'nope'" in r.stderr
    r = gankit("train", "--nproc", "2", "--resume", short_run[0], "--seed", "5", "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "train.seed (saved 0, given 5)" in r.stderr


def test_nproc_asks_the_game_what_it_supports_before_launching(tmp_path):
    r = gankit("train", "--nproc", "2", "--preset", "discogan-toy", "--quiet", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "one process" in r.stderr and not (tmp_path / "runs").exists()


def test_check_splits_the_global_batch_and_counts_processes():
    from gankit.config import build_config
    from gankit.errors import ConfigError, GankitError

    cfg = build_config("paper-digits", sets=["train.batch_size=50"])
    api.check(cfg, 2)  # 25 each
    with pytest.raises(ConfigError, match="divisible by the 3 processes"):
        api.check(cfg, 3)
    with pytest.raises(GankitError, match="--nproc 0 must be at least 1"):
        api.check(cfg, 0)


# ----------------------------------------------------------------------------- gankit sample
@pytest.fixture(scope="module")
def point_runs(tmp_path_factory):
    """A 2-D and a 1-D game, three steps each."""
    root = tmp_path_factory.mktemp("points")
    return {preset: api.train(preset, out=root / preset, progress=False,
                              sets=["train.max_steps=3", "report.html=false"]).run_dir
            for preset in ("toy-ring8", "figure1")}


def _colours(path):
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    green = ((g - r > 40) & (g - b > 40)).sum()  # the samples (tab:green)
    grey = ((abs(r - g) < 4) & (abs(g - b) < 4) & (r < 200)).sum()  # p_data (density, line)
    return green, grey


@pytest.mark.parametrize("preset, dim", [("toy-ring8", 2), ("figure1", 1)])
def test_sample_plots_points_over_the_true_density(point_runs, preset, dim, tmp_path, capsys):
    import numpy as np

    from gankit.cli import main

    run = point_runs[preset]
    code = main(["sample", str(run), "-n", "300", "--out", str(tmp_path / "p.png"),
                 "--npy", str(tmp_path / "p.npy")])
    assert code == 0
    assert np.load(tmp_path / "p.npy").shape == (300, dim)  # the raw array, as before
    green, grey = _colours(tmp_path / "p.png")
    assert green > 50 and grey > 50
    assert f"wrote {tmp_path / 'p.png'}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- gankit presets
def test_presets_print_whole_first_lines_and_long_the_whole_block():
    env = {**__import__("os").environ, "COLUMNS": "80"}
    short = gankit("presets", env=env)
    assert short.returncode == 0, short.stderr
    text = " ".join(short.stdout.split())
    assert ("cdcgan-mnist Conditional DCGAN on 28x28 MNIST, data in [-1, 1]: class-conditioned "
            "G, projection D, AC-GAN head cgan-mnist") in text
    assert max(map(len, short.stdout.splitlines())) <= 80
    long = gankit("presets", "--long", env=env)
    text = " ".join(long.stdout.split())
    assert ("weight 1). Base width 32 (half DCGAN's 64) so that it trains on one CPU thread; "
            "Adam 2e-4, beta1 0.5, as in dcgan-mnist. cgan-mnist") in text


def test_every_preset_summary_is_a_whole_phrase():
    from gankit.presets import preset_names, preset_summary

    for name in preset_names():
        s = preset_summary(name)
        assert s.count("(") == s.count(")") and s.count("[") == s.count("]"), name
        assert not s.endswith((",", ":", ";", "(")), name


def test_a_reader_that_stops_early_ends_the_output_quietly():
    import subprocess as sp

    proc = sp.Popen([sys.executable, "-m", "gankit", "presets", "--long"], stdout=sp.PIPE,
                    stderr=sp.PIPE)
    proc.stdout.close()  # the reader is gone before the first write
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and err == b""
    r = sp.run(f"{sys.executable} -m gankit presets | head -1", shell=True,
               capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith("acgan-mnist ")


# ----------------------------------------------------------------------------- gankit evaluate
@pytest.fixture(scope="module")
def mnist_run(mnist_root, tmp_path_factory):
    """One step on MNIST; the data folder comes from $GANKIT_DATA_DIR, not the config."""
    out = tmp_path_factory.mktemp("mnist") / "run"
    return api.train("paper-mnist", out=out, progress=False,
                     sets=[*TINY, "train.max_steps=1", "report.html=false"]).run_dir


@pytest.fixture
def no_sampling(monkeypatch):
    """Evaluation must fail before it generates anything; nothing may be downloaded."""
    from gankit import sampling
    from gankit.data import mnist

    def refuse(*args, **kwargs):
        raise AssertionError("samples were generated before the inputs were checked")

    monkeypatch.setattr(sampling, "sample", refuse)
    monkeypatch.setattr(mnist, "MIRRORS", ["file:///no/such/mirror"])


def _evaluate(capsys, *args):
    from gankit.cli import main

    code = main(["evaluate", *map(str, args), "--samples", "100", "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("where", ["--data-dir", "GANKIT_DATA_DIR"])
def test_evaluate_without_the_data_fails_before_generating(mnist_run, no_sampling, where,
                                                          tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("GANKIT_DATA_DIR", str(empty if where == "GANKIT_DATA_DIR" else tmp_path))
    code, err = _evaluate(capsys, mnist_run, *(["--data-dir", empty] if where == "--data-dir"
                                               else []))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("gankit: error: MNIST file ") and str(empty / "mnist") in err
    assert not (mnist_run / "eval").exists()


def test_evaluate_checks_the_feature_network_before_generating(mnist_run, no_sampling,
                                                              tmp_path, capsys):
    code, err = _evaluate(capsys, mnist_run, "--features-path", tmp_path / "none.safetensors",
                          "--metrics", "fid")
    assert code == 2 and err.count("\n") == 1 and "none.safetensors" in err
    code, err = _evaluate(capsys, mnist_run, "--metrics", "parzen,nope")
    assert code == 2 and "unknown metric(s) nope" in err
    assert not (mnist_run / "eval").exists()


def test_evaluate_refuses_images_the_feature_network_cannot_read_at_once(no_sampling, capsys,
                                                                        point_runs):
    code, err = _evaluate(capsys, point_runs["toy-ring8"], "--metrics", "fid")
    assert code == 2 and "takes images of shape (1, 28, 28), got (2,)" in err


def test_the_evaluate_command_a_run_prints_fits_its_samples(mnist_run, point_runs):
    from gankit.cli.train import _evaluate_command
    from gankit.io import checkpoint as ckpt

    for run, extra in ((mnist_run, ""), (point_runs["toy-ring8"], " --metrics parzen")):
        assert _evaluate_command(run, ckpt.resolve(run)[0]) == f"gankit evaluate {run}{extra}"


# ----------------------------------------------------------------------------- side effects
_SETTINGS_SCRIPT = """
import json, sys
import matplotlib
matplotlib.use("svg")  # the user's own choice, which gankit must leave alone
import numpy as np
import torch
torch.set_num_threads(3)
torch.set_flush_denormal(False)
from gankit.core.step import flushing_subnormals

def settings():
    return [matplotlib.get_backend(), torch.get_num_threads(), flushing_subnormals()]

seen = [settings()]
import gankit
from gankit.paper.figures import Memorisation, memorisation_figure
from gankit.report import plots
seen.append(settings())
out = sys.argv[1]
sets = [*sys.argv[2:], "train.max_steps=3", "speed.threads=1", "speed.flush_denormal=true",
        "report.html=true"]
gankit.train("paper-digits", out=out + "/digits", sets=sets, progress=False)
gankit.train("toy-ring8", out=out + "/toy", sets=sets[-4:], progress=False)
memorisation_figure(Memorisation(np.ones(5), np.ones(5) * 2), out + "/memo.png")
seen.append(settings())
print(json.dumps({"seen": seen, "pyplot": "matplotlib.pyplot" in sys.modules}))
"""


def test_gankit_leaves_the_process_settings_as_it_found_them(tmp_path):
    import json

    r = subprocess.run([sys.executable, "-c", _SETTINGS_SCRIPT, str(tmp_path), *TINY],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["seen"] == [["svg", 3, False]] * 3  # after import, and after runs
    assert not result["pyplot"]
    for png in ("digits/samples/final.png", "toy/samples/final.png", "memo.png"):
        assert (tmp_path / png).stat().st_size > 1000, png
    assert "<img" in (tmp_path / "digits" / "report.html").read_text()
