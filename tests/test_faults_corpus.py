"""Hostile and damaged files: each is refused with one named error, nothing is executed, and
nothing damaged is ever used as if it were intact."""

import ast
import gzip
import hashlib
import json
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_config

import gankit
from gankit import api
from gankit.data.idx import parse_idx, read_bytes
from gankit.errors import CheckpointError, DataError, GankitError
from gankit.games import make_trainer
from gankit.io import checkpoint as ckpt

# ----------------------------------------------------------------------------- IDX and gzip
IDX = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 5, 4, 4) + bytes(range(80))


def _load(path: Path) -> np.ndarray:
    return parse_idx(read_bytes(path), str(path))


def test_every_truncation_of_a_gzip_idx_file_is_refused(tmp_path):
    packed = gzip.compress(IDX, mtime=0)
    f = tmp_path / "t.gz"
    for n in range(len(packed)):
        f.write_bytes(packed[:n])
        with pytest.raises(DataError):
            _load(f)


def test_every_bit_flip_of_a_gzip_idx_file_is_refused_or_harmless(tmp_path):
    """A flip is either caught (gzip CRC, length, IDX header) or lands in a field that does not
    change the content (gzip's mtime, flags); it never yields different pixels silently."""
    packed = gzip.compress(IDX, mtime=0)
    f = tmp_path / "t.gz"
    refused = 0
    for pos in range(len(packed)):
        for bit in range(8):
            data = bytearray(packed)
            data[pos] ^= 1 << bit
            f.write_bytes(bytes(data))
            try:
                arr = _load(f)
            except DataError:
                refused += 1
                continue
            assert arr.tobytes() == IDX[16:] and arr.shape == (5, 4, 4), (pos, bit)
    assert refused > 0.8 * 8 * len(packed)


@pytest.mark.parametrize("header", [
    struct.pack(">HBB", 0, 8, 4) + struct.pack(">4I", *[0xFFFFFFFF] * 4),  # 2^128 bytes
    struct.pack(">HBB", 0, 8, 2) + struct.pack(">2I", 0x10000, 0x10000),   # 4 GiB declared
    struct.pack(">HBB", 0, 8, 255),                                         # header cut short
    struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 0, 4, 4),             # empty
])
def test_idx_headers_declaring_absurd_shapes_are_refused(tmp_path, header):
    f = tmp_path / "h"
    f.write_bytes(header + bytes(16))
    with pytest.raises(DataError):
        _load(f)
    f.write_bytes(gzip.compress(header + bytes(16)))
    with pytest.raises(DataError):
        _load(f)


def test_random_bytes_and_random_idx_damage_give_data_errors_only(tmp_path):
    rng = random.Random(0)
    f = tmp_path / "r"
    for _ in range(300):
        if rng.random() < 0.5:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        else:
            data = bytearray(IDX)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(16)] = rng.randrange(256)  # damage the header only
            data = bytes(data[:rng.randint(0, len(data))])
        f.write_bytes(data)
        try:
            arr = _load(f)
        except DataError:
            continue
        assert arr.size == len(data) - 4 - 4 * arr.ndim  # what parsed is exactly the file


# ----------------------------------------------------------------------------- checkpoints
@pytest.fixture
def run(tmp_path):
    """A run directory with two real checkpoints of the tiny model (no training needed)."""
    (tmp_path / "run").mkdir()
    trainer = make_trainer(tiny_config(), tmp_path / "run", progress=False)
    trainer.save_checkpoint()
    trainer.epoch = 1
    trainer.save_checkpoint()
    return tmp_path / "run"


def _reseal(path: Path) -> None:
    """Recompute the manifest, as an attacker who controls every file of a checkpoint can."""
    manifest = {f: {"bytes": (path / f).stat().st_size,
                    "sha256": hashlib.sha256((path / f).read_bytes()).hexdigest()}
                for f in (ckpt.TENSORS, ckpt.STATE)}
    (path / ckpt.MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("fname", [ckpt.TENSORS, ckpt.STATE, ckpt.MANIFEST])
def test_truncated_checkpoints_are_named_and_passed_over(run, fname):
    latest = run / "checkpoints" / "epoch-0001"
    original = (latest / fname).read_bytes()
    lengths = sorted({0, 1, 7, 8, len(original) // 2, len(original) - 1,
                      *random.Random(1).sample(range(len(original)), 12)})
    for n in lengths:
        (latest / fname).write_bytes(original[:n])
        with pytest.raises(CheckpointError, match=f"checkpoint {latest} is damaged"):
            ckpt.resolve(latest)
        path, warnings = ckpt.resolve(run)
        assert path.name == "epoch-0000" and "epoch-0001" in warnings[0]


@pytest.mark.parametrize("fname", [ckpt.TENSORS, ckpt.STATE, ckpt.MANIFEST])
def test_bit_flipped_checkpoints_are_refused_or_unchanged(run, fname):
    latest = run / "checkpoints" / "epoch-0001"
    good, _ = ckpt.read_checkpoint(latest)
    original = (latest / fname).read_bytes()
    rng = random.Random(2)
    refused = 0
    for _ in range(60):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        (latest / fname).write_bytes(bytes(data))
        try:
            path, _ = ckpt.resolve(latest)
        except CheckpointError:
            refused += 1
            continue
        tensors, _ = ckpt.read_checkpoint(path)  # only a harmless flip may pass
        assert all(torch.equal(good[k], tensors[k]) for k in good)
    assert refused >= 55


@pytest.mark.parametrize("state", [
    [], {"format": 1}, {"format": 1, "config": "x"}, {"format": 1, "config": {"model": 3}},
    {"format": 2}, "not an object",
])
def test_well_sealed_but_malformed_state_is_refused_with_one_error(run, state):
    latest = run / "checkpoints" / "epoch-0001"
    real = json.loads((latest / ckpt.STATE).read_text())
    (latest / ckpt.STATE).write_text(json.dumps(state))
    _reseal(latest)
    for call in (lambda: api.resume(run, progress=False), lambda: api.load_generator(latest),
                 lambda: api.sample(latest, 4)):
        with pytest.raises(GankitError):
            call()
    # Keys of the right names but of the wrong types, with a correct config.
    broken = {**real, "step": "seven", "opt_G": {"__dict__": 5}, "image_shape": None}
    (latest / ckpt.STATE).write_text(json.dumps(broken))
    _reseal(latest)
    with pytest.raises(GankitError):
        api.resume(run, progress=False)
    with pytest.raises(GankitError):
        api.load_generator(latest)


def test_safetensors_header_lies_are_refused(run):
    latest = run / "checkpoints" / "epoch-0001"
    f = latest / ckpt.TENSORS
    body = f.read_bytes()
    for header_len in (0, 2**63, len(body)):
        f.write_bytes(struct.pack("<Q", header_len) + body[8:])
        _reseal(latest)
        with pytest.raises(CheckpointError, match="cannot be read"):
            api.load_generator(latest)
    f.write_bytes(struct.pack("<Q", 30) + b'{"w":{"dtype":"F32","shape":[1000000],'
                  b'"data_offsets":[0,4000000]}}' + bytes(8))
    _reseal(latest)
    with pytest.raises(GankitError):
        api.load_generator(latest)


# ----------------------------------------------------------------------------- pickles
class _Exploit:
    """Unpickling this runs code: it writes a marker file (a real attack would do worse)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_a_pickle_crafted_to_run_code_is_refused_and_runs_nothing(run, tmp_path):
    marker = tmp_path / "marker"
    torch.save({"G/out.weight": _Exploit(marker)}, tmp_path / "evil.pt")
    payload = (tmp_path / "evil.pt").read_bytes()
    raw = pickle.dumps({"G/out.weight": _Exploit(marker)})
    # The payloads are real: loading them the unsafe way runs the code.
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.read_text() == "pwned"
    marker.unlink()
    pickle.loads(raw)
    assert marker.read_text() == "pwned"
    marker.unlink()
    # Planted where gankit expects a checkpoint, sealed with a matching manifest, and also
    # beside it under the names a torch user might expect.
    latest = run / "checkpoints" / "epoch-0001"
    (latest / ckpt.TENSORS).write_bytes(payload)
    _reseal(latest)
    for name in ("model.pt", "checkpoint.pth", "generator.pkl"):
        (latest / name).write_bytes(payload)
    for content in (payload, raw):
        (latest / ckpt.TENSORS).write_bytes(content)
        _reseal(latest)
        for call in (lambda: api.load_generator(latest), lambda: api.sample(latest, 4),
                     lambda: api.resume(latest, progress=False)):
            with pytest.raises(CheckpointError, match="cannot be read"):
                call()
    path, warnings = ckpt.resolve(run)  # the run's own fallback does not trust it either
    assert path == latest and warnings == []  # the seal is intact: reading is what refuses
    assert not marker.exists()


def test_gankit_never_unpickles():
    """No module of the package imports pickle (or a wrapper of it), calls torch.load, or
    calls np.load without an explicit allow_pickle=False.

    One exception: the official CIFAR-10 archive *is* pickles, so data/cifar10.py reads it with
    an Unpickler whose find_class admits only numpy's array reconstruction (malicious archives
    are refused: tests/test_data_cifar10.py). It may import pickle only while it restricts
    find_class.
    """
    root = Path(gankit.__file__).parent
    offenders = []
    for source in root.rglob("*.py"):
        tree = ast.parse(source.read_text())
        if source.relative_to(root).as_posix() == "data/cifar10.py":
            assert any(isinstance(n, ast.FunctionDef) and n.name == "find_class"
                       for n in ast.walk(tree)), "cifar10.py must restrict find_class"
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n.split(".")[0] in {"pickle", "dill", "joblib", "cloudpickle", "shelve"}
                   for n in names):
                offenders.append(f"{source.name}: imports {names}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "load" and isinstance(node.func.value, ast.Name):
                module = node.func.value.id
                safe_np = module in {"np", "numpy"} and any(
                    k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                    and k.value.value is False for k in node.keywords)
                if module in {"torch", "pickle", "np", "numpy"} and not safe_np:
                    offenders.append(f"{source.name}:{node.lineno}: {module}.load")
    assert offenders == []
