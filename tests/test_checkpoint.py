import json

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.io import checkpoint as ckpt


def _save(root, name, step, value=1.0):
    return ckpt.save_checkpoint(root, name, {"w": torch.full((3,), value)}, {"step": step})


def test_round_trip_and_latest(tmp_path):
    root = tmp_path / "checkpoints"
    _save(root, "a", 1)
    path = _save(root, "b", 2, 2.0)
    assert (root / "latest").read_text().strip() == "b"
    resolved, warnings = ckpt.resolve(tmp_path)
    assert resolved == path and warnings == []
    tensors, state = ckpt.read_checkpoint(resolved)
    assert torch.equal(tensors["w"], torch.full((3,), 2.0)) and state["step"] == 2
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_nested_state_round_trips_through_tensors_and_json():
    state = {"state": {0: {"inc": torch.arange(3.0), "step": torch.tensor(4.0)}},
             "param_groups": [{"lr": 0.1, "params": [0], "betas": (0.5, 0.9)}]}
    tensors, tree = ckpt.flatten_state("opt", state)
    back = ckpt.unflatten_state(json.loads(json.dumps(tree)), tensors)
    assert torch.equal(back["state"][0]["inc"], torch.arange(3.0))
    assert back["param_groups"][0]["lr"] == 0.1 and 0 in back["state"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "drop_manifest", "drop_tensors"])
def test_damage_is_detected_and_named(tmp_path, damage):
    path = _save(tmp_path / "checkpoints", "a", 1)
    f = path / ckpt.TENSORS
    if damage == "flip":
        data = bytearray(f.read_bytes())
        data[-1] ^= 0x40
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        f.write_bytes(f.read_bytes()[:-5])
    elif damage == "drop_manifest":
        (path / ckpt.MANIFEST).unlink()
        (path / ckpt.TENSORS).touch()
    else:
        f.unlink()
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is damaged"):
        ckpt.resolve(path)


def test_run_dir_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    root = tmp_path / "checkpoints"
    good = _save(root, "a", 1)
    bad = _save(root, "b", 2)
    (bad / ckpt.STATE).write_text((bad / ckpt.STATE).read_text().replace("2", "3"))
    resolved, warnings = ckpt.resolve(tmp_path)
    assert resolved == good
    assert len(warnings) == 1 and "b" in warnings[0] and "SHA-256" in warnings[0]


def test_half_written_checkpoint_is_invisible(tmp_path):
    root = tmp_path / "checkpoints"
    good = _save(root, "a", 1)
    half = root / ".b.tmp-999"
    half.mkdir()
    (half / ckpt.TENSORS).write_bytes(b"partial")
    assert ckpt.resolve(tmp_path)[0] == good


def test_prune_keeps_the_newest(tmp_path):
    root = tmp_path / "checkpoints"
    for i in range(5):
        _save(root, f"c{i}", i)
    ckpt.prune(root, 2)
    assert [p.name for p in ckpt.list_checkpoints(root)] == ["c3", "c4"]


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="neither a run directory"):
        ckpt.resolve(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        ckpt.resolve(tmp_path)


def test_pickle_files_are_refused(tmp_path):
    """A checkpoint whose tensors are a torch.save pickle is never unpickled."""
    path = _save(tmp_path / "checkpoints", "a", 1)
    torch.save({"w": torch.ones(3)}, path / ckpt.TENSORS)
    with pytest.raises(CheckpointError, match="damaged"):
        ckpt.resolve(path)
