"""Users' own image folders: formats, resize and centre crop, class subfolders, the uint8
cache that spares later runs all decoding, and corrupt files skipped with a count."""

import numpy as np
import pytest
from PIL import Image

from gankit.config import build_config
from gankit.data import folder as folder_mod
from gankit.data import load_for_model
from gankit.data.folder import load_folder
from gankit.errors import DataError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_mod, "cache_root", lambda: tmp_path / "cache")


def _make(tmp_path, corrupt=True):
    root = tmp_path / "imgs"
    (root / "cats").mkdir(parents=True)
    (root / "dogs" / "deep").mkdir(parents=True)
    # A wide image: red | green | blue thirds; the centre crop must be all green.
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20, 0] = 255
    wide[:, 20:40, 1] = 255
    wide[:, 40:, 2] = 255
    Image.fromarray(wide).save(root / "cats" / "a.png")
    Image.fromarray(np.full((30, 30, 3), 200, np.uint8)).save(root / "cats" / "b.jpg",
                                                              quality=95)
    Image.fromarray(np.full((16, 16), 90, np.uint8), "L").save(root / "dogs" / "c.webp",
                                                                lossless=True)
    Image.fromarray(np.full((40, 10, 3), 30, np.uint8)).save(root / "dogs" / "deep" / "d.JPEG")
    (root / "dogs" / "notes.txt").write_text("not an image")
    if corrupt:
        (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        good = (root / "cats" / "b.jpg").read_bytes()
        (root / "cats" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    return root


def test_formats_crop_labels_and_corrupt_files_skipped(tmp_path, capsys):
    root = _make(tmp_path)
    data = load_folder(root, 8)
    err = capsys.readouterr().err
    assert "skipped 2 of 6 images" in err and "gankit: warning" in err
    assert len(data) == 4 and data.shape == (3, 8, 8)
    # sorted: cats/a.png, cats/b.jpg, (cats/truncated.jpg), (dogs/broken.png), dogs/c.webp,
    # dogs/deep/d.JPEG
    assert data.labels.tolist() == [0, 0, 1, 1]
    centre = data.images[0]
    # Bicubic resampling blurs only the outermost columns of the crop.
    assert centre[1, :, 1:-1].min() > 0.99 and centre[1].min() > 0.9
    assert centre[0].max() < 0.1 and centre[2].max() < 0.1
    assert data.images[1].mean().item() == pytest.approx(200 / 255, abs=0.02)
    assert torch_allclose_grey(data.images[2], 90 / 255)
    grey = load_folder(root, 8, color="grey")
    assert grey.shape == (1, 8, 8)


def torch_allclose_grey(img, value):
    return bool((img - value).abs().max() < 0.01)


def test_second_load_decodes_nothing_and_a_changed_file_rebuilds(tmp_path, monkeypatch, capsys):
    root = _make(tmp_path)
    real_decode = folder_mod.decode
    first = load_folder(root, 8)
    cached = list(folder_mod.cache_root().glob("*.u8"))
    assert len(cached) == 1 and cached[0].stat().st_size == 4 * 3 * 8 * 8

    def no_decoding(*args):
        raise AssertionError("decoded an image although the cache was complete")

    monkeypatch.setattr(folder_mod, "decode", no_decoding)
    second = load_folder(root, 8)
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.labels, second.labels)
    assert "skipped 2 of 6" in capsys.readouterr().err  # the count is reported again
    monkeypatch.setattr(folder_mod, "decode", real_decode)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "cats" / "a.png")
    third = load_folder(root, 8)
    assert third.images[0].max() == 0 and len(list(folder_mod.cache_root().glob("*.u8"))) == 2


def test_unwritable_cache_falls_back_to_memory(tmp_path, monkeypatch):
    root = _make(tmp_path, corrupt=False)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setattr(folder_mod, "cache_root", lambda: blocker / "cache")
    assert len(load_folder(root, 8)) == 4


def test_bad_folders_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist; set data.path"):
        load_folder(tmp_path / "nope", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no PNG/JPEG/WebP images"):
        load_folder(tmp_path / "empty", 8)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"nonsense")
    with pytest.raises(DataError, match="none of the 1 images"):
        load_folder(tmp_path / "bad", 8)
    with pytest.raises(DataError, match="needs data.image_size"):
        load_folder(tmp_path / "bad", 0)


def test_folder_preset_puts_images_in_tanh_range(tmp_path):
    root = _make(tmp_path, corrupt=False)
    cfg = build_config("dcgan-folder", sets=[f"data.path={str(root)!r}", "data.image_size=16"])
    data = load_for_model(cfg.data, "tanh")
    assert data.images.min() == -1 and data.images.max() == 1 and data.shape == (3, 16, 16)
