"""The paper's Figure 1, made from a real 1-D training run (``gankit figure1``).

The ``figure1`` preset trains a 1-D GAN (z uniform) through the ordinary Trainer; a callback
records p_g (the exact push-forward of a fine z grid), D(x) and the map x = G(z) every few
steps. The panels are:

(a) the first recorded moment at which p_g is similar to p_data (TV <= 0.5) while D is still
    a partially accurate classifier;
(b) the same G, with D trained alone to convergence (gankit.theory.train_discriminator); the
    exact D* = p_data / (p_data + p_g) is drawn beside it;
(c) later in the same run, once G has moved towards the data (TV <= 0.2);
(d) the end of the run, where D should be close to 1/2 and p_g close to p_data; both distances
    are reported (``figure1.json``).

An animated GIF shows every recorded moment.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gankit import theory
from gankit.api import train
from gankit.config import Config, build_config
from gankit.data.toy import GaussianMixture
from gankit.errors import ConfigError
from gankit.game_figures import GameSnapshot, save_animation, save_figure1
from gankit.runs import create_run_dir
from gankit.trainer import Callback, Trainer

MAP_LINES = 25  # z values drawn as arrows


class SnapshotRecorder(Callback):
    """Records a GameSnapshot (and copies of G and D) every ``every`` steps; draws no RNG."""

    def __init__(self, dist: GaussianMixture, every: int, grid_points: int = 801) -> None:
        lo, hi = dist.box(margin=6.0)
        self.dist, self.every = dist, every
        self.grid = np.linspace(min(lo[0], -2.5), hi[0], grid_points)
        self.p_data = dist.density(self.grid[:, None])
        self.z = np.linspace(-theory.SQRT3, theory.SQRT3, MAP_LINES)
        self.snapshots: list[GameSnapshot] = []
        self.nets: list[tuple[dict, dict]] = []

    def record(self, trainer: Trainer) -> None:
        g, d = trainer.g.net, trainer.d.net
        with torch.no_grad():
            g_z = g(torch.tensor(self.z, dtype=torch.float32, device=trainer.device)[:, None])
        self.snapshots.append(GameSnapshot(
            trainer.step, self.grid, self.p_data, theory.pushforward_density(g, self.grid),
            theory.discriminator_on_grid(d, self.grid), self.z,
            g_z.reshape(-1).double().cpu().numpy()))
        self.nets.append((copy.deepcopy(g.state_dict()), copy.deepcopy(d.state_dict())))

    def on_log(self, trainer: Trainer, record: dict) -> None:
        if trainer.step % self.every == 0:
            self.record(trainer)


@dataclass
class Figure1Report:
    steps: int
    panel_steps: list[int]
    final_max_abs_d_minus_half: float  # over the data's support (p_data >= 1% of its peak)
    final_jsd: float  # JSD(p_data || p_g), nats (max log 2)
    final_tv: float  # total variation distance, in [0, 1]
    panel_b_max_abs_d_minus_dstar: float  # D trained alone vs D*, same support rule as theory
    files: list[str]


def _distances(snap: GameSnapshot) -> tuple[float, float, float]:
    support = snap.p_data >= 0.01 * snap.p_data.max()
    return (float(np.abs(snap.d - 0.5)[support].max()),
            theory.jsd(snap.p_data, snap.p_g, snap.grid),
            theory.total_variation(snap.p_data, snap.p_g, snap.grid))


def _first(snaps: list[GameSnapshot], start: int, tv_at_most: float) -> int:
    for i in range(start, len(snaps)):
        if theory.total_variation(snaps[i].p_data, snaps[i].p_g, snaps[i].grid) <= tv_at_most:
            return i
    return len(snaps) - 1


def figure1_config(sets: list[str] | tuple[str, ...] = ()) -> Config:
    cfg = build_config("figure1", sets=sets)
    if cfg.model.noise_dim != 1 or cfg.model.prior != "uniform" or cfg.model.arch != "toy":
        raise ConfigError("Figure 1 draws x = G(z) for a 1-D uniform z: keep model.noise_dim = "
                          "1, model.prior = 'uniform' and model.arch = 'toy'")
    if not cfg.data.name.endswith("-1d"):
        raise ConfigError(f"Figure 1 needs 1-D data (gaussian-1d or mixture-1d), not "
                          f"{cfg.data.name!r}")
    return cfg


def make_figure1(out: str | os.PathLike, sets: list[str] | tuple[str, ...] = (),
                 every: int = 20, progress: bool = True,
                 optimal_d_steps: int = 1000) -> Figure1Report:
    """Train the ``figure1`` preset into ``out/run`` and write figure1.png/.gif/.json in ``out``."""
    cfg = figure1_config(sets)
    if every % cfg.train.log_every:
        raise ConfigError(f"snapshots every {every} steps need train.log_every "
                          f"({cfg.train.log_every}) to divide {every}")
    out = create_run_dir(Path(out))
    dist = _distribution(cfg)
    rec = SnapshotRecorder(dist, every)
    result = train(config=cfg, out=out / "run", progress=progress, callbacks=[rec])
    snaps = rec.snapshots
    if len(snaps) < 4:
        raise ConfigError(f"the run recorded {len(snaps)} moments; Figure 1 needs at least 4 "
                          f"(train longer or snapshot more often than every {every} steps)")
    a = _first(snaps, 0, 0.5)
    a = min(a, len(snaps) - 3)
    c = max(_first(snaps, a + 1, 0.2), a + 1)
    c = min(c, len(snaps) - 2)
    d_opt, d_star = _panel_b(cfg, rec, a, dist, optimal_d_steps)
    panels = [(_titled(snaps[a], "(a)"), None),
              (_titled(d_opt, "(b) D trained alone"), d_star),
              (_titled(snaps[c], "(c)"), None), (_titled(snaps[-1], "(d)"), None)]
    files = [save_figure1(panels, out / "figure1.png"),
             save_animation([_titled(s, "") for s in snaps], out / "figure1.gif")]
    max_half, js, tv = _distances(snaps[-1])
    support = d_opt.p_data + d_opt.p_g >= 0.02 * (d_opt.p_data + d_opt.p_g).max()
    report = Figure1Report(result.step, [snaps[a].step, snaps[a].step, snaps[c].step,
                                         snaps[-1].step], max_half, js, tv,
                           float(np.abs(d_opt.d - d_star)[support].max()),
                           [str(f) for f in files])
    (out / "figure1.json").write_text(json.dumps(asdict(report), indent=1) + "\n", "utf-8")
    return report


def _distribution(cfg: Config) -> GaussianMixture:
    from gankit.data.toy import distribution

    return distribution(cfg.data.name)  # type: ignore[return-value]


def _titled(snap: GameSnapshot, label: str) -> GameSnapshot:
    js = theory.jsd(snap.p_data, snap.p_g, snap.grid)
    return GameSnapshot(**{**asdict(snap), "title": f"{label} step {snap.step}, JSD {js:.3f}"})


def _panel_b(cfg: Config, rec: SnapshotRecorder, i: int, dist: GaussianMixture,
             steps: int) -> tuple[GameSnapshot, np.ndarray]:
    """G of moment ``i`` held fixed, its D trained alone to convergence."""
    from gankit.nets import build_discriminator, build_generator

    g = build_generator(cfg.model, (1,))
    d = build_discriminator(cfg.model, (1,))
    g.load_state_dict(rec.nets[i][0])
    d.load_state_dict(rec.nets[i][1])
    rng = np.random.default_rng(cfg.train.seed)
    gen = torch.Generator().manual_seed(cfg.train.seed)
    theory.train_discriminator(
        d, lambda n: torch.from_numpy(dist.sample(n, rng).astype(np.float32)),
        lambda n: g(g.sample_noise(n, gen)), steps=steps, batch_size=500, lr=3e-3)
    snap = rec.snapshots[i]
    d_star = theory.optimal_discriminator(snap.p_data, snap.p_g)
    return GameSnapshot(snap.step, snap.grid, snap.p_data, snap.p_g,
                        theory.discriminator_on_grid(d, snap.grid), snap.z, snap.g_z), d_star
