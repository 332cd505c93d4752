"""What a training checkpoint holds: both players' weights, optimiser and schedule states,
G's moving average (train.ema, under G_ema/), the RNG states and the run's position, and how a
trainer is put back into that state.
(The file format, atomic saving and finding the newest intact checkpoint: gankit.io.checkpoint.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gankit.errors import CheckpointError
from gankit.io import checkpoint as ckpt

if TYPE_CHECKING:
    from gankit.training.trainer import Trainer

PLAYERS = ("G", "D")


def state_tensors(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The checkpoint of ``trainer`` as (tensors, JSON state)."""
    players = dict(zip(PLAYERS, (trainer.g, trainer.d), strict=True))
    tensors = {f"{name}/{k}": v for name, p in players.items()
               for k, v in p.net.state_dict().items()}
    state: dict[str, Any] = {}
    for name, player in players.items():
        t, tree = ckpt.flatten_state(f"opt_{name}", player.opt.state_dict())
        tensors |= t
        state[f"opt_{name}"] = tree
        state[f"lr_{name}"] = player.lr_schedule.state_dict()
    if trainer.ema is not None:
        tensors |= {ckpt.G_EMA + k: v for k, v in trainer.ema.net.state_dict().items()}
    tensors["rng/cpu"] = torch.get_rng_state()
    tensors["rng/stream"] = trainer.stream.get_state()
    if trainer.device.type == "cuda":
        tensors["rng/cuda"] = torch.cuda.get_rng_state(trainer.device)
    state |= {"step": trainer.step, "epoch": trainer.epoch,
              "batch_in_epoch": trainer.batch_in_epoch, "train_seconds": trainer.train_seconds,
              "config": trainer.cfg.to_dict(), "image_shape": list(trainer.data.shape)}
    return tensors, state


def load_state(trainer: Trainer, path: Path) -> None:
    """Put ``trainer`` into the state saved at ``path``; CheckpointError if it does not fit."""
    tensors, state = ckpt.read_checkpoint(path)
    players = dict(zip(PLAYERS, (trainer.g, trainer.d), strict=True))
    try:
        for name, player in players.items():
            prefix = f"{name}/"
            player.net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                        if k.startswith(prefix)})
        for name, player in players.items():
            player.opt.load_state_dict(ckpt.unflatten_state(state[f"opt_{name}"], tensors))
            player.lr_schedule.load_state_dict(state[f"lr_{name}"])
        _load_ema(trainer, tensors)
        torch.set_rng_state(tensors["rng/cpu"])
        trainer.stream.set_state(tensors["rng/stream"])
        if "rng/cuda" in tensors and trainer.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng/cuda"], trainer.device)
        trainer.step, trainer.epoch, trainer.batch_in_epoch = (
            int(state[k]) for k in ("step", "epoch", "batch_in_epoch"))
        trainer.train_seconds = float(state.get("train_seconds", 0.0))
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"checkpoint {path} does not fit this model ({first}); resume "
                              "with the config the run was started with") from None


def _load_ema(trainer: Trainer, tensors: dict[str, torch.Tensor]) -> None:
    """Restore G's moving average; a checkpoint without one starts it at the restored G."""
    if trainer.ema is None:
        return
    saved = {k[len(ckpt.G_EMA):]: v for k, v in tensors.items() if k.startswith(ckpt.G_EMA)}
    if saved:
        trainer.ema.net.load_state_dict(saved)
    else:
        trainer.ema.reset(trainer.g.net)
