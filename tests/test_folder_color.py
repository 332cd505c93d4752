"""data.color = "auto" on a folder: a grey folder trains grey, the run's config.toml and log
say so, and a run saved with "auto" before that (3 channels) still resumes as RGB."""

import json

import numpy as np
import pytest
from helpers import tiny_config
from PIL import Image

from gankit import api, games
from gankit.data import folder as folder_mod
from gankit.data.folder import load_folder
from gankit.io.checkpoint import read_checkpoint, resolve


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_mod, "cache_root", lambda: tmp_path / "cache")


def _grey_folder(root, n=20, as_rgb=False):
    """``n`` 28x28 grey digits-like images in two class folders, as L files or as RGB files
    whose three channels are equal."""
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / str(i % 2)).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        img = Image.fromarray(np.stack([pixels] * 3, -1)) if as_rgb else Image.fromarray(pixels)
        img.save(root / str(i % 2) / f"{i}.png")
    return root


def test_auto_keeps_grey_files_and_grey_rgb_files_grey(tmp_path):
    for as_rgb in (False, True):
        root = _grey_folder(tmp_path / f"grey-{as_rgb}", 6, as_rgb)
        auto = load_folder(root, 28, color="auto")
        assert auto.shape == (1, 28, 28)
        # exactly what "grey" decodes, and the pixels the files hold
        assert np.array_equal(auto.images, load_folder(root, 28, color="grey").images)
        first = np.asarray(Image.open(root / "0" / "0.png").convert("L"), np.float32) / 255
        assert np.array_equal(auto.images[0, 0].numpy(), first)
    colour = np.zeros((28, 28, 3), np.uint8)
    colour[5, 5] = (10, 20, 30)  # one coloured pixel makes the folder RGB
    Image.fromarray(colour).save(root / "1" / "colour.png")
    assert load_folder(root, 28, color="auto").shape == (3, 28, 28)


def _folder_run(root, *sets):
    return tiny_config('data.name="folder"', f"data.path={str(root)!r}", "data.image_size=28",
                       "train.batch_size=10", "train.epochs=1", *sets)


def test_new_grey_folder_run_trains_one_channel_and_records_it(tmp_path, capsys):
    root = _grey_folder(tmp_path / "digits")
    run = tmp_path / "run"
    api.train(config=_folder_run(root, 'data.color="auto"'), out=run, progress=False)
    assert 'color = "grey"' in (run / "config.toml").read_text()
    tensors, state = read_checkpoint(resolve(run)[0])
    assert state["image_shape"] == [1, 28, 28] and state["config"]["data"]["color"] == "grey"
    # D's first layer (maxout over the pixels) takes one channel: 784 inputs, not 3 * 784
    assert tensors["D/net.1.linear.weight"].shape[1] == 28 * 28
    out = capsys.readouterr().out
    assert out.count('data.color = "auto": every image under') == 1
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["color"] for e in events if e.get("event") == "data_color"] == ["grey"]


def test_run_saved_with_auto_and_three_channels_resumes_as_rgb(tmp_path, monkeypatch):
    root = _grey_folder(tmp_path / "digits")
    run = tmp_path / "old"
    # The run as gankit trained it before "auto" was resolved: RGB, and "auto" saved.
    with monkeypatch.context() as old:
        old.setattr(folder_mod, "all_grey", lambda array: False)
        old.setattr(games, "resolved_color", lambda cfg, data: cfg.color)
        api.train(config=_folder_run(root, 'data.color="auto"'), out=run, progress=False)
    assert 'color = "auto"' in (run / "config.toml").read_text()
    assert read_checkpoint(resolve(run)[0])[1]["image_shape"] == [3, 28, 28]
    result = api.resume(run, epochs=2, progress=False)
    assert result.epoch == 2
    tensors, state = read_checkpoint(resolve(run)[0])
    assert state["image_shape"] == [3, 28, 28] and state["config"]["data"]["color"] == "rgb"
    assert tensors["D/net.1.linear.weight"].shape[1] == 3 * 28 * 28
