"""Checkpoints: safetensors for tensors, JSON for the rest, a SHA-256 manifest, atomic writes.

Layout: ``RUN/checkpoints/<name>/{tensors.safetensors, state.json, manifest.json}`` and
``RUN/checkpoints/latest`` naming the newest. A checkpoint is written into a hidden temporary
folder and renamed into place, so a crash mid-write never leaves a half checkpoint under a real
name; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gankit.config import Config, merge
from gankit.errors import CheckpointError, ConfigError, StorageError
from gankit.io.atomic import fsync_path, write_text_atomic

TENSORS, STATE, MANIFEST, LATEST = "tensors.safetensors", "state.json", "manifest.json", "latest"
G_EMA = "G_ema/"  # the prefix of the generator's moving average (train.ema), beside G/
FORMAT = 1


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def flatten_state(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (e.g. an optimiser's state_dict) into tensors and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(obj: Any, key: str) -> Any:
        if isinstance(obj, torch.Tensor):
            tensors[key] = obj.detach().cpu().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(obj, dict):
            return {"__dict__": [[k, walk(v, f"{key}/{k}")] for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{key}/{i}") for i, v in enumerate(obj)]
        return obj

    return tensors, walk(state, prefix)


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict) and "__tensor__" in tree:
        return tensors[tree["__tensor__"]]
    if isinstance(tree, dict) and "__dict__" in tree:
        return {k: unflatten_state(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    return tree


def save_checkpoint(root: Path, name: str, tensors: dict[str, torch.Tensor],
                    state: dict[str, Any]) -> Path:
    """Write checkpoint ``name`` under ``root`` atomically and point ``latest`` at it.

    When the disk is full or read-only, the half-written temporary is removed and a
    StorageError says so; earlier checkpoints and ``latest`` are untouched.
    """
    tmp = root / f".{name}.tmp-{os.getpid()}"
    try:
        return _save(root, tmp, name, tensors, state)
    except (OSError, SafetensorError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        kept = [p.name for p in list_checkpoints(root)] if root.is_dir() else []
        raise StorageError(f"cannot write checkpoint {root / name}: {why}; "
                           + (f"the previous checkpoint {kept[-1]} is intact; " if kept else "")
                           + "free space or make the output writable, then resume") from None


def _save(root: Path, tmp: Path, name: str, tensors: dict[str, torch.Tensor],
          state: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / TENSORS)
    (tmp / STATE).write_text(json.dumps({"format": FORMAT, **state}, indent=1), "utf-8")
    manifest = {f: {"bytes": (tmp / f).stat().st_size, "sha256": _digest(tmp / f)}
                for f in (TENSORS, STATE)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
    for f in (TENSORS, STATE, MANIFEST):
        fsync_path(tmp / f)
    final = root / name
    old = root / f".{name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    fsync_path(root)
    write_text_atomic(root / LATEST, name + "\n")
    shutil.rmtree(old, ignore_errors=True)
    return final


def verify(path: Path) -> str | None:
    """Why the checkpoint at ``path`` is damaged, or None when every file matches its manifest."""
    try:
        manifest = json.loads((path / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return f"its manifest is missing or unreadable ({exc.__class__.__name__})"
    for fname in (TENSORS, STATE):
        entry = manifest.get(fname)
        f = path / fname
        if not isinstance(entry, dict) or not f.exists():
            return f"{fname} is missing"
        if f.stat().st_size != entry.get("bytes"):
            return f"{fname} has {f.stat().st_size} bytes, the manifest says {entry.get('bytes')}"
        if _digest(f) != entry.get("sha256"):
            return f"{fname} fails its SHA-256 check"
    return None


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first (by the step they hold)."""
    found = []
    for p in root.glob("*"):
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists():
            try:
                step = json.loads((p / STATE).read_text("utf-8")).get("step", -1)
            except (OSError, ValueError, AttributeError):
                step = -1
            step = step if isinstance(step, int) else -1
            found.append((step, p.name, p))
    return [p for _, _, p in sorted(found)]


def resolve(path: str | os.PathLike) -> tuple[Path, list[str]]:
    """The intact checkpoint a path means, and warnings about damaged ones passed over.

    ``path`` is a checkpoint folder (which must be intact) or a run directory, whose ``latest``
    checkpoint is used, falling back to the newest intact one when ``latest`` is damaged.
    """
    path = Path(path)
    if (path / MANIFEST).exists() or (path / TENSORS).exists():
        problem = verify(path)
        if problem:
            raise CheckpointError(f"checkpoint {path} is damaged: {problem}; use an earlier "
                                  "checkpoint of the run, or the run directory to pick one")
        return path, []
    root = path / "checkpoints"
    if not root.is_dir():
        raise CheckpointError(f"{path} is neither a run directory with checkpoints/ nor a "
                              "checkpoint folder; pass the --out folder of a training run")
    candidates = list_checkpoints(root)
    latest = (root / LATEST).read_text().strip() if (root / LATEST).exists() else None
    if latest and (root / latest).is_dir():
        candidates = [c for c in candidates if c.name != latest] + [root / latest]
    warnings = []
    for cand in reversed(candidates):
        problem = verify(cand)
        if problem is None:
            return cand, warnings
        warnings.append(f"skipped damaged checkpoint {cand}: {problem}")
    raise CheckpointError(f"no intact checkpoint in {root}"
                          + (f" ({'; '.join(warnings)})" if warnings else "")
                          + "; start a new run without --resume")


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and state of a checkpoint folder that ``resolve`` returned (never unpickles)."""
    try:
        tensors = load_file(path / TENSORS)
        state = json.loads((path / STATE).read_text("utf-8"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc}); use an earlier "
                              "checkpoint") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} has a state.json that is not a JSON object; "
                              "use an earlier checkpoint")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {state.get('format')!r}, this "
                              f"gankit reads format {FORMAT}; use the gankit that wrote it")
    return tensors, state


def clean_temporaries(root: Path) -> list[str]:
    """Remove hidden leftovers of writes that a crash interrupted; call with the run locked."""
    removed = []
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".") and ".old-" in p.name:
                # Renamed aside to make room for a new copy of itself that never arrived.
                final = root / p.name[1:].rsplit(".old-", 1)[0]
                if not final.exists():
                    p.rename(final)
                    continue
            if p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                removed.append(p.name)
    return removed


def saved_config(state: dict[str, Any], path: Path) -> Config:
    """The training config a checkpoint's state holds, checked like any other config."""
    config = state.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {path} holds no training config; it was not "
                              "written by gankit train")
    try:
        return merge(Config(), config, f"{path}/{STATE}")
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path} holds an unusable config: {exc}") from None


def load_players(path: str | os.PathLike, game: str, hint: str
                 ) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any], Config]:
    """The newest intact checkpoint of a run (or a checkpoint folder) of ``game.name = game``:
    its path, tensors, state and config; another game's run is refused with ``hint``."""
    resolved, _ = resolve(path)
    tensors, state = read_checkpoint(resolved)
    cfg = saved_config(state, resolved)
    if cfg.game.name != game:
        raise CheckpointError(f"{resolved} holds a {cfg.game.name!r} run, not a {game!r} one; "
                              f"{hint}")
    return resolved, tensors, state, cfg


def load_prefixed(net: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str,
                  path: Path) -> None:
    """Load the weights saved under ``prefix`` (e.g. "G/") into ``net``, or say they differ."""
    try:
        net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                             if k.startswith(prefix)})
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} holds {prefix[:-1]} weights that do not match "
                              f"its own config ({str(exc).splitlines()[0]})") from None


def generator_prefix(tensors: dict[str, torch.Tensor], raw: bool = False) -> str:
    """Where a checkpoint's sampled generator is: its moving average when it holds one (and
    ``raw`` is false), else G itself."""
    return G_EMA if not raw and any(k.startswith(G_EMA) for k in tensors) else "G/"


def prune(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (0 keeps all); never the latest."""
    if keep <= 0:
        return
    latest = (root / LATEST).read_text().strip() if (root / LATEST).exists() else None
    for old in list_checkpoints(root)[:-keep]:
        if old.name != latest:
            shutil.rmtree(old, ignore_errors=True)
