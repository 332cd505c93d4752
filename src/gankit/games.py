"""Which games gankit plays (``game.name``), and a trainer for the configured one.

Every model kind enters training here: ``build_game`` turns a config into a game object
(``gankit.core.game.Game``) and ``make_trainer`` hands it to the loop, which never asks what
kind it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from gankit.config import Config, validate
from gankit.core import gan
from gankit.core.game import Game
from gankit.data import color_note, resolved_color
from gankit.devices import resolve_device
from gankit.discogan import game as discogan
from gankit.distributed import DistContext, device_for
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer

# game.name -> (the check of what the game supports, given whether training is distributed;
# the game's constructor)
GAMES: dict[str, tuple[Callable[[Config, bool], None], Callable[[Config, torch.device], Game]]]
GAMES = {
    "gan": (gan.check_config, gan.GanGame),
    "discogan": (discogan.check_config, discogan.DiscoGame),
}


def check_config(cfg: Config, distributed: bool = False) -> None:
    """The config's cross-field rules, then what its game supports."""
    validate(cfg)
    check, _ = GAMES[cfg.game.name]
    check(cfg, distributed)


def build_game(cfg: Config, device: torch.device, distributed: bool = False) -> Game:
    """The configured game, its players initialised from the run's seed."""
    check_config(cfg, distributed)
    _, construct = GAMES[cfg.game.name]
    torch.manual_seed(cfg.train.seed)
    game = construct(cfg, device)
    cfg.data.color = resolved_color(cfg.data, game.data)  # config.toml: what the run trains on
    return game


def make_trainer(cfg: Config, run_dir: Path, resume_from: Path | None = None,
                 progress: bool = True, callbacks: list[Callback] | None = None,
                 dist: DistContext | None = None) -> Trainer:
    """A trainer of the configured game in ``run_dir`` (resuming from a checkpoint if given)."""
    dist = dist or DistContext()
    device = device_for(dist, cfg.train.device) or resolve_device(cfg.train.device)
    color = cfg.data.color
    game = build_game(cfg, device, dist.active)
    trainer = Trainer(cfg, game, Path(run_dir), resume_from=resume_from, progress=progress,
                      callbacks=callbacks, dist=dist)
    if cfg.data.color != color and dist.is_main:  # a folder's "auto", resolved: say so
        note = color_note(cfg.data, cfg.data.color)
        print(f"gankit: {note}")
        trainer.metrics.write({"event": "data_color", "step": 0, "color": cfg.data.color,
                               "note": note})
    return trainer
