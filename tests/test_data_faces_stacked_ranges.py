"""Faces (Olivetti, download mocked), Stacked MNIST and the value-range layer."""

import numpy as np
import pytest
import torch

from gankit.config import build_config
from gankit.data import faces as faces_mod
from gankit.data import load_dataset, load_for_model, to_model_range, to_unit
from gankit.data.ranges import global_contrast_normalize
from gankit.data.stacked_mnist import stack_digits
from gankit.errors import ConfigError, DataError


@pytest.fixture
def fake_olivetti(monkeypatch):
    """400 synthetic 64x64 faces, person p's images all at brightness (p + 1) / 41."""
    calls = []

    def fetch(data_home):
        calls.append(data_home)
        people = np.repeat(np.arange(40), 10)
        images = np.broadcast_to(((people + 1) / 41.0)[:, None, None], (400, 64, 64))
        return images.astype(np.float32), people

    monkeypatch.setattr(faces_mod, "fetch_olivetti", fetch)
    return calls


def test_faces_split_by_person(fake_olivetti, tmp_path):
    parts = {s: load_dataset("faces", s, tmp_path) for s in ("train", "valid", "test")}
    assert [len(p) for p in parts.values()] == [320, 40, 40]
    people = [set(p.labels.tolist()) for p in parts.values()]
    assert people[0] == set(range(32)) and not (people[0] & people[1] or people[1] & people[2])
    assert parts["train"].shape == (1, 64, 64)
    assert set(fake_olivetti) == {str(tmp_path / "olivetti")}


def test_paper_tfd_faces_are_48x48_in_unit_range(fake_olivetti, tmp_path):
    cfg = build_config("paper-tfd", sets=[f"data.data_dir={str(tmp_path)!r}"])
    data = load_for_model(cfg.data, cfg.model.g_output)
    assert data.shape == (1, 48, 48)
    # Flat images stay flat through the antialiased resize: person 0 is 1/41 everywhere.
    assert torch.allclose(data.images[0], torch.full((1, 48, 48), 1 / 41), atol=1e-6)
    dc = build_config("dcgan-faces", sets=[f"data.data_dir={str(tmp_path)!r}"])
    tanh = load_for_model(dc.data, "tanh")
    assert tanh.shape == (1, 64, 64)
    assert tanh.images[0, 0, 0, 0].item() == pytest.approx(2 / 41 - 1, abs=1e-6)


def test_faces_without_network_is_one_line(monkeypatch, tmp_path):
    def offline(data_home):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(faces_mod, "fetch_olivetti", offline)
    with pytest.raises(DataError, match="could not be downloaded") as info:
        load_dataset("faces", "train", tmp_path)
    assert "\n" not in str(info.value) and "olivetti" in str(info.value)


def test_stacked_mnist_stacks_three_digits_with_labels():
    digits = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1).expand(50, 1, 4, 4) / 50
    labels = torch.arange(50) % 10
    data = stack_digits(digits, labels, seed=3)
    assert data.shape == (3, 4, 4) and len(data) == 50
    for i in range(50):
        source = [int(round(data.images[i, c, 0, 0].item() * 50)) for c in range(3)]
        assert data.labels[i].item() == 100 * (source[0] % 10) + 10 * (source[1] % 10) \
            + source[2] % 10
    # Each channel is a permutation of the whole set; the three differ from each other.
    channels = [sorted((data.images[:, c, 0, 0] * 50).round().int().tolist()) for c in range(3)]
    assert channels == [list(range(50))] * 3
    assert not torch.equal(data.images[:, 0], data.images[:, 1])
    assert torch.equal(stack_digits(digits, labels, seed=3).images, data.images)


def test_stacked_mnist_from_real_mnist(mnist_root):
    data = load_dataset("stacked_mnist", "test", mnist_root)
    assert data.shape == (3, 28, 28) and len(data) == 10_000
    assert len(set(data.labels.tolist())) > 990  # 10,000 draws nearly cover the 1,000 modes


def test_value_ranges_follow_the_generator_output():
    x = torch.rand(4, 3, 5, 5)
    assert torch.equal(to_model_range(x, "sigmoid"), x)
    assert torch.allclose(to_model_range(x, "tanh"), 2 * x - 1)
    assert torch.allclose(to_unit(to_model_range(x, "tanh"), "tanh"), x, atol=1e-6)
    with pytest.raises(ConfigError, match="linear output"):
        to_model_range(x, "sigmoid", gcn=True)


def test_gcn_matches_a_float64_hand_computation():
    rng = np.random.default_rng(0)
    x = rng.random((6, 3, 4, 4))
    x[5] = 0.25  # a flat image: its norm is 0 and it must stay 0, not NaN
    flat = x.reshape(6, -1) - x.reshape(6, -1).mean(1, keepdims=True)
    norms = np.sqrt((flat ** 2).sum(1, keepdims=True))
    norms[norms < 1e-8] = 1
    expected = (55.0 * flat / norms).reshape(x.shape)
    got = global_contrast_normalize(torch.from_numpy(x).float(), 55.0)
    assert np.allclose(got.numpy(), expected, atol=1e-5)
    assert (got[5] == 0).all()
    assert np.allclose(np.linalg.norm(got[:5].reshape(5, -1).numpy(), axis=1), 55, rtol=1e-5)
    shown = to_unit(got, "linear")
    assert shown.reshape(6, -1)[:5].min(1).values.eq(0).all()
    assert shown.reshape(6, -1)[:5].max(1).values.eq(1).all()
