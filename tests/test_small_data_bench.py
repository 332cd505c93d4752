"""benchmarks/small_data.py on a few steps: the folder it writes, the augmentation each variant
trains with, FIDs against the test digits and the folder, and runs read back, not retrained."""

from __future__ import annotations

import json
import sys

import pytest
import tomllib
import torch
from helpers import load_benchmark
from PIL import Image


@pytest.fixture
def small_data(monkeypatch, mnist_root):
    monkeypatch.setenv("GANKIT_DATA_DIR", str(mnist_root))
    module = load_benchmark("small_data")
    monkeypatch.setattr(module, "SAMPLES", 200)
    return module


def test_writes_the_folder_trains_each_variant_and_reads_runs_back(small_data, tmp_path,
                                                                   monkeypatch, capsys,
                                                                   one_torch_thread):
    argv = ["small_data.py", "--images", "80", "--steps", "2", "--seeds", "3", "--variants",
            "none", "translation,cutout", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    small_data.main()
    pngs = sorted((tmp_path / "mnist-80").glob("*.png"))
    assert len(pngs) == 80 and Image.open(pngs[0]).size == (28, 28)
    done = json.loads((tmp_path / "small-data.json").read_text())
    assert len(done) == 2
    for name, augment in (("none", []), ("translation,cutout", ["translation", "cutout"])):
        row = done[f"80 images, 2 steps, {name}, seed 3"]
        assert row["steps"] == 2 and row["fid_test"] > 0 and row["fid_train"] > 0
        run = tmp_path / "runs" / f"80-{name.replace(',', '+')}-3"
        cfg = tomllib.loads((run / "config.toml").read_text())
        assert cfg["data"]["augment"] == augment and cfg["data"]["name"] == "folder"
    table = capsys.readouterr().out
    assert "| none | " in table and "| translation,cutout | " in table
    monkeypatch.setattr(small_data, "run_one", lambda *a: pytest.fail("trained again"))
    small_data.main()
    assert torch.get_num_threads() == 1
