"""RGB evaluation: Inception features through torch-fidelity, exercised with a small random
stand-in network (neither torch-fidelity's weights nor, here, the library are available), and
the one-line fallback when the library or the weights are missing."""

from __future__ import annotations

import hashlib
import json
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from test_data_cifar10 import _write_archive
from torch import nn

from gankit import api
from gankit.cli import main
from gankit.config import build_config
from gankit.data import cifar10, load_dataset
from gankit.metrics.evaluate import Evaluator, evaluate_checkpoint
from gankit.metrics.inception import describe_preprocess, to_uint8_rgb

FIDELITY = "torch_fidelity"
INCEPTION_MODULE = "torch_fidelity.feature_extractor_inceptionv3"


@pytest.fixture
def cifar_run(tmp_path, monkeypatch):
    """A tiny DCGAN trained one step on a synthetic CIFAR-10 archive (RGB 32x32)."""
    (tmp_path / "cifar10").mkdir()
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", _write_archive(tmp_path / "cifar10" /
                                                                cifar10.ARCHIVE))
    cfg = build_config("dcgan-cifar10", sets=[
        f"data.data_dir={str(tmp_path)!r}", "model.g_width=4", "model.d_width=4",
        "train.batch_size=8", "train.max_steps=1", "train.sample_every=0"])
    api.train(config=cfg, out=tmp_path / "run", progress=False)
    return tmp_path / "run"


class TinyNet(nn.Module):
    """A small random conv net in Inception's place: uint8 (N, 3, H, W) -> (N, 2048)."""


    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 5, stride=4)
        self.fc = nn.Linear(8 * 16, 2048)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        x = F.adaptive_avg_pool2d(torch.relu(self.conv((x - 128) / 128)), 4)
        return self.fc(x.flatten(1))


class StandIn(TinyNet):
    """torch-fidelity's extractor contract: built from a features list, weights from its
    download hook, uint8 (N, 3, H, W) in (resized to 299x299 inside), a tuple out."""

    seen: list[torch.Tensor] = []

    def __init__(self, name: str, features_list: list[str]) -> None:
        super().__init__()
        assert features_list == ["2048"]
        self.load_state_dict(sys.modules[INCEPTION_MODULE].load_state_dict_from_url("url"))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        assert x.dtype == torch.uint8 and x.ndim == 4 and x.shape[1] == 3
        StandIn.seen.append(x)
        return (super().forward(x),)


def _fake_fidelity(monkeypatch) -> types.ModuleType:
    package, module = types.ModuleType(FIDELITY), types.ModuleType(INCEPTION_MODULE)
    module.FeatureExtractorInceptionV3 = StandIn

    def download(*args, **kwargs):
        raise AssertionError("gankit must never let torch-fidelity download")

    module.load_state_dict_from_url = download
    package.feature_extractor_inceptionv3 = module
    monkeypatch.setitem(sys.modules, FIDELITY, package)
    monkeypatch.setitem(sys.modules, INCEPTION_MODULE, module)
    return module


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "inception.safetensors"
    save_file(_stand_in_state(), str(path))
    return path


def _stand_in_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(8, 3, 5, 5, generator=g) * 0.1,
            "conv.bias": torch.zeros(8), "fc.weight": torch.randn(2048, 128, generator=g) * 0.1,
            "fc.bias": torch.zeros(2048)}


def test_uint8_conversion_rounds_clamps_and_repeats_grey():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1, 0.2, 0.998, 0.002]).view(1, 1, 2, 4)
    got = to_uint8_rgb(x)
    assert got.dtype == torch.uint8 and got.shape == (1, 3, 2, 4)
    assert got[0, 0].flatten().tolist() == [0, 128, 255, 255, 0, 51, 254, 1]
    assert torch.equal(got[0, 0], got[0, 1]) and torch.equal(got[0, 0], got[0, 2])
    assert "grey repeated" in describe_preprocess((1, 28, 28))
    assert describe_preprocess((3, 32, 32)).startswith("uint8 at 32x32, resized to 299x299")


def test_inception_path_with_a_stand_in_network(cifar_run, weights, monkeypatch, tmp_path):
    module = _fake_fidelity(monkeypatch)
    hook = module.load_state_dict_from_url
    StandIn.seen.clear()
    report, _ = evaluate_checkpoint(cifar_run, "fid,kid,pr", n_samples=20,
                                    out=tmp_path / "e.json", progress=False,
                                    features="inception", features_path=str(weights))
    assert module.load_state_dict_from_url is hook  # the weights hook is put back
    assert report["notes"] == []
    assert report["feature_network"] == {
        "name": "inception", "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    rows = {r["metric"]: r for r in report["results"]}
    assert list(rows) == ["fid", "kid", "precision", "recall"]
    for r in rows.values():  # every figure names its references, counts and resizing
        assert r["params"]["reference"] == "cifar10 train[:48]"
        assert r["params"]["n_reference"] == 48 and r["params"]["n_samples"] == 20
        assert r["params"]["preprocess"] == describe_preprocess((3, 32, 32))
    # The network saw exactly the generated samples, then the reference images, as uint8 at
    # their own size (torch-fidelity resizes): the same draws as `gankit sample --seed 0`.
    real = load_dataset("cifar10", "train", cifar_run.parent).images
    fake = api.for_display(api.sample(cifar_run, 20, seed=0), cifar_run)
    assert all(x.shape[1:] == (3, 32, 32) for x in StandIn.seen)
    assert torch.equal(torch.cat(StandIn.seen), to_uint8_rgb(torch.cat([fake, real])))
    assert rows["fid"]["value"] > 0 and rows["recall"]["value"] >= 0
    saved = json.loads((tmp_path / "e.json").read_text())
    assert saved["results"][0]["params"]["preprocess"].endswith("(TF1-compatible bilinear)")


@pytest.mark.parametrize("case", ["no library", "no weights", "a pickle"])
def test_rgb_run_falls_back_in_one_line(cifar_run, weights, monkeypatch, capsys, tmp_path,
                                        case):
    args = ["evaluate", str(cifar_run), "--samples", "20", "--out", str(tmp_path / "e.json"),
            "--quiet"]
    if case == "no library":
        monkeypatch.setitem(sys.modules, FIDELITY, None)  # import raises ImportError
        args += ["--features-path", str(weights)]
        reason = "need torch-fidelity"
    else:
        _fake_fidelity(monkeypatch)
        if case == "a pickle":
            torch.save(_stand_in_state(), tmp_path / "inception.pth")  # refused, not unpickled
            args += ["--features-path", str(tmp_path / "inception.pth")]
            reason = "not a safetensors file"
        else:
            reason = "none was given"
    assert main(args) == 0  # the CLI's default metrics: parzen,fid,kid,pr,score,modes
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: note: RGB data: fid, kid, pr ")
    assert reason in err and err.rstrip().endswith("computing parzen")
    assert "score, modes not computed" in err
    report = json.loads((tmp_path / "e.json").read_text())
    assert [r["metric"] for r in report["results"]] == ["parzen"]
    assert report["notes"] == [err.rstrip()] and "feature_network" not in report


def test_fallback_choices_per_dataset(monkeypatch):
    monkeypatch.setitem(sys.modules, FIDELITY, None)
    stacked = Evaluator("stacked_mnist", metrics=["fid", "pr"], progress=False)
    note = stacked.fit_to_rgb()
    assert stacked.metrics == ["parzen", "stacked-modes"]
    assert note.endswith("computing parzen, stacked-modes") and "fid, pr not computed" in note
    only_score = Evaluator("cifar10", metrics=["score"], progress=False)
    assert only_score.fit_to_rgb().endswith("ten classes; computing parzen")
    assert only_score.metrics == ["parzen"]
    weight_free = Evaluator("stacked_mnist", metrics=["stacked-modes"], progress=False)
    assert weight_free.fit_to_rgb() is None and weight_free.metrics == ["stacked-modes"]
