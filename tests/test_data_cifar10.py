"""CIFAR-10 from synthetic archives in the official format (the real one is not downloadable
here): splits, layout, checksums, download, and a restricted unpickler that refuses code."""

import functools
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest

from gankit.data import cifar10, load_dataset
from gankit.errors import DataError

PER_BATCH = 12


def _batch(seed: int, n: int = PER_BATCH) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": f"batch {seed}".encode(), b"labels": [int(v) for v in
            rng.integers(0, 10, n)], b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}


BATCHES = {name: _batch(i) for i, name in enumerate(cifar10.BATCH_MD5)}


def _write_archive(path, batches=BATCHES, extra: dict | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, content in {**{n: pickle.dumps(b, protocol=2) for n, b in batches.items()},
                              **(extra or {})}.items():
            info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def archive_root(tmp_path, monkeypatch):
    (tmp_path / "cifar10").mkdir()
    md5 = _write_archive(tmp_path / "cifar10" / cifar10.ARCHIVE)
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", md5)
    return tmp_path


def test_splits_sizes_and_channel_layout(archive_root):
    parts = {s: load_dataset("cifar10", s, archive_root) for s in cifar10.SPLITS}
    assert [len(parts[s]) for s in ("train", "valid", "test", "train-full")] == \
        [4 * PER_BATCH, PER_BATCH, PER_BATCH, 5 * PER_BATCH]
    train = parts["train"]
    assert train.shape == (3, 32, 32) and train.images.dtype.is_floating_point
    raw = BATCHES["data_batch_1"][b"data"]
    # Rows hold the red plane, then green, then blue, each 32x32 in row-major order.
    assert train.images[0, 0, 0, 0].item() == pytest.approx(raw[0, 0] / 255)
    assert train.images[0, 1, 0, 0].item() == pytest.approx(raw[0, 1024] / 255)
    assert train.images[0, 2, 31, 31].item() == pytest.approx(raw[0, 3071] / 255)
    assert train.labels.tolist()[:PER_BATCH] == BATCHES["data_batch_1"][b"labels"]
    valid_raw = BATCHES["data_batch_5"][b"data"]
    assert np.allclose(parts["valid"].images.numpy().reshape(PER_BATCH, -1), valid_raw / 255)
    assert np.array_equal(parts["train-full"].images[4 * PER_BATCH:], parts["valid"].images)


def test_extracted_folder_is_read_and_checked(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10" / cifar10.FOLDER
    folder.mkdir(parents=True)
    md5s = {}
    for name, batch in BATCHES.items():
        content = pickle.dumps(batch, protocol=2)
        (folder / name).write_bytes(content)
        md5s[name] = hashlib.md5(content).hexdigest()
    monkeypatch.setattr(cifar10, "BATCH_MD5", md5s)
    assert len(load_dataset("cifar10", "test", tmp_path)) == PER_BATCH
    (folder / "test_batch").write_bytes(pickle.dumps(_batch(99), protocol=2))
    with pytest.raises(DataError, match="test_batch fails its MD5 check"):
        load_dataset("cifar10", "test", tmp_path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({b"data": _Exploit(), b"labels": []}, protocol=2)
    with pytest.raises(DataError, match=r"refused global (posix|os|nt)\.system"):
        cifar10.unpickle_batch(evil, "data_batch_1")
    assert not (tmp_path / "pwned-by-pickle").exists()
    # The same through an archive whose checksum matches: still refused.
    (tmp_path / "cifar10").mkdir()
    md5 = _write_archive(tmp_path / "cifar10" / cifar10.ARCHIVE,
                         {n: b for n, b in BATCHES.items() if n != "test_batch"},
                         extra={"test_batch": evil})
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", md5)
    with pytest.raises(DataError, match="refused global"):
        load_dataset("cifar10", "test", tmp_path)
    assert not (tmp_path / "pwned-by-pickle").exists()
    assert len(load_dataset("cifar10", "valid", tmp_path)) == PER_BATCH


def test_refuses_other_numpy_globals_and_codecs():
    sneaky = pickle.dumps(np.load, protocol=2)
    with pytest.raises(DataError, match="refused global numpy"):
        cifar10.unpickle_batch(sneaky, "b")
    with pytest.raises(pickle.UnpicklingError, match="refused _codecs.encode"):
        cifar10._latin1_encode("x", "rot13")


@pytest.mark.parametrize("batch, fragment", [
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "3072"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, "outside 0..9"),
    ([1, 2, 3], "no dict"),
])
def test_malformed_batches_are_named(batch, fragment):
    with pytest.raises(DataError, match=fragment):
        cifar10.unpickle_batch(pickle.dumps(batch, protocol=2), "data_batch_1")


def test_archive_checksum_mismatch_is_named(archive_root, monkeypatch):
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", "0" * 32)
    with pytest.raises(DataError, match="fails its MD5 check"):
        load_dataset("cifar10", "train", archive_root)


def test_download_verifies_and_renames(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    md5 = _write_archive(served / cifar10.ARCHIVE)
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", md5)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = tmp_path / "root"
    try:
        monkeypatch.setattr(cifar10, "MIRRORS", ["http://127.0.0.1:1/dead",
                                                 f"http://127.0.0.1:{server.server_port}"])
        data = load_dataset("cifar10", "valid", root)
    finally:
        server.shutdown()
    assert len(data) == PER_BATCH
    assert [p.name for p in (root / "cifar10").iterdir()] == [cifar10.ARCHIVE]


def test_no_network_says_where_to_put_the_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "MIRRORS", ["http://127.0.0.1:1/a"])
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", "train", tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "cifar10") in msg and cifar10.ARCHIVE in msg
    assert not any((tmp_path / "cifar10").iterdir())
