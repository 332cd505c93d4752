"""A user's own images: feature networks trained on folders, and `gankit fid A B`, run through
the command line (in process) on tiny folders of drawn shapes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import tiny_config
from PIL import Image, ImageDraw

from gankit import api
from gankit.cli import main
from gankit.metrics import features as features_mod
from gankit.metrics.features import load_feature_network


def draw(kind: str, n: int, seed: int, size: int = 16, rgb: bool = False) -> list[Image.Image]:
    """``n`` filled circles or squares of random place, radius and brightness (or colour)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        img = Image.new("RGB" if rgb else "L", (size, size), 0)
        r = rng.uniform(0.2 * size, 0.35 * size)
        cx, cy = rng.uniform(r + 1, size - r - 1, 2)
        fill = tuple(int(v) for v in rng.integers(80, 256, 3)) if rgb \
            else int(rng.integers(150, 256))
        draw_ = ImageDraw.Draw(img)
        (draw_.ellipse if kind == "circle" else draw_.rectangle)(
            [cx - r, cy - r, cx + r, cy + r], fill=fill)
        images.append(img)
    return images


def write(folder, images, prefix="img"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        img.save(folder / f"{prefix}-{i:03d}.png")
    return folder


def as_tensor(images: list[Image.Image]) -> torch.Tensor:
    x = np.stack([np.asarray(img, np.float32) / 255 for img in images])
    return torch.from_numpy(x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Labelled grey and RGB folders, unlabelled circles (two draws) and squares."""
    r = tmp_path_factory.mktemp("folders")
    for kind, seed in (("circle", 0), ("square", 1)):
        write(r / "labelled" / kind, draw(kind, 40, seed))
        write(r / "rgb" / kind, draw(kind, 30, seed + 10, rgb=True))
    write(r / "circles", draw("circle", 40, 20))
    write(r / "circles2", draw("circle", 40, 21))
    write(r / "squares", draw("square", 40, 22))
    return r


def train_net(folder, out, *extra):
    code = main(["train-classifier", "--set", 'data.name="folder"', "--set", f"data.path={folder}",
                 "--out", str(out), "--epochs", "2", "--quiet", *extra])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def grey_net(root):
    return train_net(root / "labelled", root / "nets" / "grey.safetensors")


@pytest.fixture(scope="module")
def ae_net(root):
    return train_net(root / "circles", root / "nets" / "ae.safetensors")


def fid(capsys, *args):
    """Run `gankit fid`, return its exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(["fid", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def values(path) -> dict[str, float]:
    return {r["metric"]: r["value"] for r in json.loads(path.read_text())["results"]}


def test_labelled_folder_trains_a_classifier_that_sorts_new_shapes(grey_net):
    card = json.loads(grey_net.with_suffix(".json").read_text())
    assert card["arch"] == "folder-classifier" and card["class_names"] == ["circle", "square"]
    assert (card["n_train"], card["n_held_out"]) == (64, 16) and card["image_size"] == 16
    assert card["held_out_accuracy"] >= 0.9
    # Rebuilt from the file alone (its metadata), with nothing registered for it.
    before = dict(features_mod.FEATURE_NETWORKS)
    net = load_feature_network(path=str(grey_net))
    assert before == features_mod.FEATURE_NETWORKS
    assert net.name == "folder-classifier:grey.safetensors" and net.image_shape == (1, 16, 16)
    fresh = as_tensor(draw("circle", 50, 99) + draw("square", 50, 98))
    truth = torch.tensor([0] * 50 + [1] * 50)
    _, logits = net.extract(fresh)
    assert (logits.argmax(1) == truth).double().mean() >= 0.9
    classifier = load_feature_network("trained", str(grey_net))
    assert classifier.digest == net.digest and classifier.logits_fn is not None


def test_unlabelled_folder_trains_an_autoencoder_better_than_the_mean_image(root, ae_net,
                                                                           capsys):
    out = ae_net
    card = json.loads(out.with_suffix(".json").read_text())
    x = as_tensor(draw("circle", 40, 20))
    mean_image_mse = float(((x - x.mean(0)) ** 2).mean())
    assert card["arch"] == "folder-autoencoder" and card["class_names"] == []
    assert card["held_out_mse"] < 0.5 * mean_image_mse
    net = load_feature_network(path=str(out))
    assert net.logits_fn is None and net.extract(x)[0].shape == (40, 64)
    code, stdout, _ = fid(capsys, root / "circles", root / "circles", "--features-path", out)
    assert code == 0 and "folder-autoencoder:ae.safetensors" in stdout


def test_fid_of_a_folder_with_itself_is_zero_and_grows_with_other_shapes(root, grey_net,
                                                                         capsys, tmp_path):
    for net in ([], ["--features-path", grey_net]):
        same, other_draw, other_shape = (tmp_path / f"{k}{len(net)}.json" for k in "abc")
        for b, out in (("circles", same), ("circles2", other_draw), ("squares", other_shape)):
            code, stdout, _ = fid(capsys, root / "circles", root / b, "--out", out, *net)
            assert code == 0 and "fid" in stdout and f"wrote {out}" in stdout
        v_same, v_draw, v_shape = values(same), values(other_draw), values(other_shape)
        assert abs(v_same["fid"]) < 1e-3 and v_same["precision"] == v_same["recall"] == 1
        assert v_shape["fid"] > 3 * v_draw["fid"] > 0
        assert v_shape["precision"] < v_draw["precision"]
    report = json.loads(same.read_text())
    assert report["format"] == "gankit-fid/1" and report["preprocess"]["a"] == "16x16 grey"
    assert report["results"][0]["params"] == {"n_a": 40, "n_b": 40}
    default = json.loads((tmp_path / "a0.json").read_text())  # the MNIST classifier's space
    assert default["feature_network"]["name"] == "mnist-classifier"
    assert default["preprocess"]["a"] == "16x16 grey -> 28x28 grey (antialiased bilinear)"


def test_rgb_folder_trains_in_colour_and_needs_a_colour_network(root, capsys, tmp_path):
    net = train_net(root / "rgb", root / "nets" / "rgb.safetensors")
    assert load_feature_network(path=str(net)).image_shape == (3, 16, 16)
    out = tmp_path / "rgb.json"
    code, _, _ = fid(capsys, root / "rgb", root / "rgb", "--features-path", net,
                     "--metrics", "fid", "--out", out)
    assert code == 0 and abs(values(out)["fid"]) < 1e-3
    code, _, err = fid(capsys, root / "rgb", root / "rgb", "--out", tmp_path / "no.json")
    assert code == 2 and "RGB images and the MNIST classifier reads grey" in err
    assert not (tmp_path / "no.json").exists()


def test_a_folder_against_a_run_and_the_run_evaluated_with_the_folder_network(
        root, grey_net, ae_net, capsys, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config('data.name="folder"', f"data.path={str(root / 'labelled')!r}",
                      "data.image_size=16", "train.batch_size=20", "train.epochs=1")
    api.train(config=cfg, out=run, progress=False)
    out = tmp_path / "run.json"
    code, stdout, _ = fid(capsys, root / "labelled", run, "--features-path", grey_net,
                          "--samples", 50, "--out", out)
    report = json.loads(out.read_text())
    assert code == 0 and "(run: 50 samples of" in report["b"] and "16x16 grey" in report["b"]
    assert report["results"][0]["params"] == {"n_a": 80, "n_b": 50}
    capsys.readouterr()
    code = main(["evaluate", str(run), "--features-path", str(grey_net), "--samples", "60",
                 "--out", str(tmp_path / "eval.json"), "--quiet"])
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert code == 0 and ev["feature_network"]["name"] == "folder-classifier:grey.safetensors"
    rows = {r["metric"]: r for r in ev["results"]}
    assert "parzen" not in rows and len(rows["modes_kl"]["params"]["histogram"]) == 2
    assert rows["fid"]["params"]["reference"] == "folder train[:80]"
    assert "no validation or test split: parzen not computed" in capsys.readouterr().err
    # An autoencoder has no classifier head: score and modes are left out, with a note.
    code = main(["evaluate", str(run), "--features-path", str(ae_net), "--samples", "60",
                 "--out", str(tmp_path / "ae.json"), "--quiet"])
    ae = json.loads((tmp_path / "ae.json").read_text())
    assert code == 0 and [r["metric"] for r in ae["results"]] == ["fid", "kid", "precision",
                                                                  "recall"]
    assert "ae.safetensors has no classifier head: score, modes not computed" in ae["notes"][1]


def test_train_classifier_without_set_still_trains_the_mnist_classifier(monkeypatch, tmp_path):
    from gankit.metrics import classifier

    calls = []
    monkeypatch.setattr(classifier, "train_classifier",
                        lambda out, **kw: calls.append((out, kw)) or classifier.ClassifierReport(
                            out, 0.99, 0.99, 1, 1.0))
    assert main(["train-classifier", "--out", str(tmp_path / "m.safetensors"), "--epochs",
                 "3", "--quiet"]) == 0
    assert calls == [(tmp_path / "m.safetensors",
                      {"epochs": 3, "seed": 0, "data_dir": None, "progress": False})]


@pytest.mark.parametrize("case, fragment", [
    ("missing", "is not a folder"),
    ("empty", "no PNG/JPEG/WebP images under"),
    ("sizes", "holds 16x16 images and"),
    ("corrupt", "damaged or of another network"),
    ("metric", "score reads one set of samples"),
    ("train-set", "train-classifier takes --set data.KEY=VALUE only"),
    ("train-empty", "no PNG/JPEG/WebP images under"),
])
def test_bad_inputs_give_one_line_and_write_nothing(case, fragment, root, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path / "big", draw("circle", 5, 3, size=32))
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 64)
    out = tmp_path / "out.json"
    a = root / "circles"
    args = {"missing": ["fid", a, tmp_path / "nope"], "empty": ["fid", tmp_path / "empty", a],
            "sizes": ["fid", a, tmp_path / "big"],
            "corrupt": ["fid", a, a, "--features-path", tmp_path / "corrupt.safetensors"],
            "metric": ["fid", a, a, "--metrics", "fid,score"],
            "train-set": ["train-classifier", "--set", "train.epochs=2"],
            "train-empty": ["train-classifier", "--set", 'data.name="folder"', "--set",
                            f"data.path={tmp_path / 'empty'}"]}[case]
    args += ["--out", out, "--quiet"]
    capsys.readouterr()
    assert main([str(v) for v in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and fragment in err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_inception_compares_two_folders_through_torch_fidelity(root, capsys, monkeypatch,
                                                                tmp_path):
    """The Inception route of `gankit fid`, with a stand-in network in torch-fidelity's place
    (its weights are not here): the folders' own pixels reach it as uint8 RGB."""
    from safetensors.torch import save_file
    from test_metrics_inception import StandIn, _fake_fidelity, _stand_in_state

    _fake_fidelity(monkeypatch)
    weights = tmp_path / "inception.safetensors"
    save_file(_stand_in_state(), str(weights))
    StandIn.seen.clear()
    same, other = tmp_path / "same.json", tmp_path / "other.json"
    for b, out in (("rgb", same), ("circles", other)):
        code, stdout, err = fid(capsys, root / "rgb", root / b, "--features", "inception",
                                "--features-path", weights, "--out", out)
        assert code == 0, err
    pixels = torch.cat(StandIn.seen[:2])  # the first call: folder a, then folder b
    assert pixels.dtype == torch.uint8 and pixels.shape == (120, 3, 16, 16)
    assert torch.equal(pixels[:60], pixels[60:])
    assert abs(values(same)["fid"]) < 1e-3 and values(other)["fid"] > 1
    assert json.loads(same.read_text())["feature_network"]["name"] == "inception"
