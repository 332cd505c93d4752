"""Which of the field's stabilisers a config turns on (other losses, D's regularisers, packing,
minibatch std, spectral norm) and the checks between them and the rest of the config.

Its own module so that ``gankit.config`` stays the list of keys; ``config.validate`` calls
``check_stabilisers``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gankit.errors import ConfigError

if TYPE_CHECKING:
    from gankit.config import Config


def stabilisers_on(cfg: Config) -> list[str]:
    """The keys of the losses, regularisers, augmentation and anti-collapse pieces this config
    turns on."""
    model, game = cfg.model, cfg.game
    on = [("game.loss", game.loss != "gan"), ("game.pack", game.pack > 1),
          ("data.augment", bool(cfg.data.augment)),
          ("model.d_spectral_norm", model.d_spectral_norm),
          ("model.d_minibatch_std", model.d_minibatch_std > 0)]
    on += [(f"reg.{f.name}", getattr(cfg.reg, f.name) > 0)
           for f in dataclasses.fields(cfg.reg) if f.name != "every"]
    return [name for name, is_on in on if is_on]


def check_stabilisers(cfg: Config) -> None:
    """The cross-field checks of these keys (part of ``gankit.config.validate``)."""
    game, reg, opt, model = cfg.game, cfg.reg, cfg.optim, cfg.model
    if game.loss != "gan" and game.g_loss != "non_saturating":
        raise ConfigError(f"game.g_loss = {game.g_loss!r} applies to game.loss = 'gan' only; "
                          f"game.loss = {game.loss!r} has its own G loss: drop game.g_loss")
    if game.loss != "gan" and reg.label_smoothing:
        raise ConfigError("reg.label_smoothing smooths the BCE target of game.loss = 'gan' "
                          f"only; set it to 0 for game.loss = {game.loss!r}")
    for key in ("g_beta1", "d_beta1", "g_beta2", "d_beta2"):
        if -1 < getattr(opt, key) < 0:
            raise ConfigError(f"optim.{key} = {getattr(opt, key)} must be -1 (the shared "
                              "value) or in 0 <= beta < 1")
    for who in ("g", "d"):
        if opt.lr_min > opt.player(who)[0]:
            raise ConfigError(f"optim.lr_min = {opt.lr_min} exceeds optim.{who}_lr")
    batch = cfg.train.batch_size
    if batch % game.pack:
        raise ConfigError(f"train.batch_size = {batch} must be divisible by game.pack = "
                          f"{game.pack} (D judges tuples of pack samples)")
    group = model.d_minibatch_std
    if group and (batch // game.pack) % group:
        raise ConfigError(f"model.d_minibatch_std = {group} must divide the {batch // game.pack}"
                          " inputs D sees per batch (train.batch_size / game.pack)")
    if cfg.condition.classes and game.pack > 1:
        raise ConfigError("game.pack is not supported with condition.classes: a tuple of m "
                          "samples has m classes, which D's one class input cannot take; set "
                          "game.pack = 1 (model.d_minibatch_std also sees the batch's variety)")
    if cfg.speed.compile and (reg.r1 or reg.r2 or reg.gp):
        raise ConfigError("reg.r1, reg.r2 and reg.gp differentiate twice, which speed.compile "
                          "does not; set speed.compile = false")
    if cfg.data.augment and model.arch == "toy":
        raise ConfigError(f"data.augment transforms images; data.name = {cfg.data.name!r} is "
                          "points: set data.augment = []")
    if model.d_spectral_norm and model.d_max_col_norm:
        raise ConfigError("model.d_spectral_norm and model.d_max_col_norm both constrain D's "
                          "weights; keep one")
