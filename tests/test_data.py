import functools
import gzip
import http.server
import shutil
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from gankit.data import load_dataset
from gankit.data import mnist as mnist_mod
from gankit.data.idx import parse_idx, read_bytes
from gankit.errors import DataError


def _idx(shape, fill=7) -> bytes:
    header = struct.pack(">HBB", 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + bytes([fill]) * int(np.prod(shape))


def test_parse_idx_raw_and_gzip(tmp_path):
    content = _idx((3, 2, 2))
    arr = parse_idx(content)
    assert arr.shape == (3, 2, 2) and arr.dtype == np.uint8 and (arr == 7).all()
    (tmp_path / "a.gz").write_bytes(gzip.compress(content))
    (tmp_path / "a").write_bytes(content)
    assert read_bytes(tmp_path / "a.gz") == read_bytes(tmp_path / "a") == content


@pytest.mark.parametrize("content, fragment", [
    (b"\x00\x00", "too short"),
    (b"\x00\x00\x0d\x01" + b"\x00" * 8, "wrong IDX magic"),
    (b"\x12\x34\x08\x01" + b"\x00" * 8, "wrong IDX magic"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated inside its IDX header"),
    (_idx((3, 2, 2))[:-1], "truncated or padded"),
    (_idx((3, 2, 2)) + b"\x00", "truncated or padded"),
])
def test_parse_idx_rejects_bad_content(content, fragment):
    with pytest.raises(DataError, match=fragment):
        parse_idx(content, "f")


def test_damaged_gzip_is_named(tmp_path):
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(_idx((10, 10)))[:-8])
    with pytest.raises(DataError, match="damaged gzip"):
        read_bytes(f)


def _copy_mnist(src_root: Path, dst: Path) -> Path:
    (dst / "mnist").mkdir(parents=True)
    for f in (src_root / "mnist").iterdir():
        shutil.copy(f, dst / "mnist" / f.name)
    return dst


def test_mnist_splits_as_in_the_paper(mnist_root):
    train = load_dataset("mnist", "train", mnist_root)
    valid = load_dataset("mnist", "valid", mnist_root)
    test = load_dataset("mnist", "test", mnist_root)
    assert (len(train), len(valid), len(test)) == (50_000, 10_000, 10_000)
    assert train.shape == (1, 28, 28)
    assert train.images.min() == 0 and train.images.max() == 1
    assert 0.12 < train.images.mean().item() < 0.14  # real-valued pixels, not binarised
    assert len(np.unique((train.images[:100] * 255).numpy())) > 100
    full = load_dataset("mnist", "train-full", mnist_root)
    assert (full.images[50_000:] == valid.images).all()


def test_checksum_mismatch_is_named(mnist_root, tmp_path):
    root = _copy_mnist(mnist_root, tmp_path)
    f = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(f.read_bytes()))
    content[100] ^= 1
    f.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz fails its SHA-256 check"):
        load_dataset("mnist", "test", root)


def test_truncated_file_is_named(mnist_root, tmp_path):
    root = _copy_mnist(mnist_root, tmp_path)
    f = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-784]))
    with pytest.raises(DataError, match="truncated or padded"):
        load_dataset("mnist", "test", root)


def test_download_from_mirrors(mnist_root, tmp_path, monkeypatch):
    """A dead mirror first, then a live one on loopback: files arrive, verified, renamed."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(mnist_root / "mnist"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(mnist_mod, "MIRRORS",
                            ["http://127.0.0.1:1/dead", f"http://127.0.0.1:{server.server_port}"])
        data = load_dataset("mnist", "test", tmp_path)
    finally:
        server.shutdown()
    assert len(data) == 10_000
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        f"{n}.gz" for n in mnist_mod.FILES)  # no temporary files left behind


def test_no_network_gives_one_line_saying_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "MIRRORS", ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"])
    with pytest.raises(DataError) as info:
        load_dataset("mnist", "train", tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "mnist") in msg
    assert "train-images-idx3-ubyte.gz" in msg and "GANKIT_DATA_DIR" in msg
    assert not any((tmp_path / "mnist").iterdir())


def test_digits_splits_are_fixed_and_disjoint():
    parts = {s: load_dataset("digits", s) for s in ("train", "valid", "test")}
    assert [len(p) for p in parts.values()] == [1397, 200, 200]
    assert parts["train"].shape == (1, 8, 8)
    assert parts["train"].images.max() == 1 and parts["train"].images.min() == 0
    flat = {s: {tuple(r) for r in p.flat().numpy()} for s, p in parts.items()}
    assert not flat["valid"] & flat["test"]
    assert len(flat["train"] & flat["test"]) <= 2  # the raw data holds a few exact duplicates
    assert np.array_equal(load_dataset("digits", "test").images, parts["test"].images)


def test_unknown_dataset_and_split():
    with pytest.raises(Exception, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
    with pytest.raises(DataError, match="unknown digits split"):
        load_dataset("digits", "dev")
