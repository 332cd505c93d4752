"""The paper's Figure 1, made from a real 1-D training run (``gankit figure1``).

The ``figure1`` preset trains a 1-D GAN (z uniform) through the ordinary Trainer; a callback
records p_g (the exact push-forward of a fine z grid), D(x) and the map x = G(z) every few
steps. The panels are:

(a) the first recorded moment at which p_g is similar to p_data (TV <= 0.5) while D is still
    a partially accurate classifier;
(b) the same G, with D trained alone to convergence (gankit.paper.theory.train_discriminator); the
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gankit.api import train
from gankit.config import Config, build_config
from gankit.data.toy import GaussianMixture
from gankit.errors import ConfigError
from gankit.figures.game import GameSnapshot, save_animation, save_figure1
from gankit.io.atomic import write_text_atomic
from gankit.io.run_dir import create_run_dir
from gankit.paper import theory
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer

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
    # Final panel (d). The region is the highest-density region of (p_data + p_g)/2 holding
    # 99% of its mass: outside it no sample lands often enough for the game to fix D.
    final_max_abs_d_minus_half: float  # max over the 99% region
    final_mean_abs_d_minus_half: float  # mass-weighted mean over (p_data + p_g)/2
    final_max_abs_dstar_minus_half: float  # the same max for D* of the final G: G's share
    final_mean_abs_d_minus_dstar: float  # mass-weighted: D's own share
    final_region: tuple[float, float]
    final_g_support: tuple[float, float]  # outermost grid points where p_g > 0
    final_jsd: float  # JSD(p_data || p_g), nats (max log 2)
    final_tv: float  # total variation distance, in [0, 1]
    panel_b_max_abs_d_minus_dstar: float  # D trained alone vs D*, same support rule as theory
    files: list[str]


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
    last = snaps[-1]
    half = theory.distance_from_half(last.d, last.p_data, last.p_g, last.grid)
    final = replace(last, region=theory.high_mass_region(0.5 * (last.p_data + last.p_g),
                                                          last.grid, half.mass))
    panels = [(_titled(snaps[a], "(a)"), None),
              (_titled(d_opt, "(b)", "", "D trained alone, G of "), d_star),
              (_titled(snaps[c], "(c)"), None),
              (_titled(final, "(d)", f"|D - 1/2|: max {half.max_abs_d_minus_half:.2f} in grey "
                              f"(99% of mass), mean {half.mean_abs_d_minus_half:.3f}"), None)]
    files = [save_figure1(panels, out / "figure1.png"),
             save_animation([_titled(s, "") for s in snaps], out / "figure1.gif")]
    support = d_opt.p_data + d_opt.p_g >= 0.02 * (d_opt.p_data + d_opt.p_g).max()
    report = Figure1Report(
        result.step, [snaps[a].step, snaps[a].step, snaps[c].step, last.step],
        half.max_abs_d_minus_half, half.mean_abs_d_minus_half, half.max_abs_dstar_minus_half,
        half.mean_abs_d_minus_dstar, half.region,
        _support(last),
        theory.jsd(last.p_data, last.p_g, last.grid),
        theory.total_variation(last.p_data, last.p_g, last.grid),
        float(np.abs(d_opt.d - d_star)[support].max()), [str(f) for f in files])
    write_text_atomic(out / "figure1.json", json.dumps(asdict(report), indent=1) + "\n")
    return report


def _distribution(cfg: Config) -> GaussianMixture:
    from gankit.data.toy import distribution

    return distribution(cfg.data.name)  # type: ignore[return-value]


def _support(snap: GameSnapshot) -> tuple[float, float]:
    """Outermost grid points where p_g > 0; NaN when G puts all its mass off the grid."""
    xs = snap.grid[snap.p_g > 0]
    return (float(xs.min()), float(xs.max())) if xs.size else (float("nan"), float("nan"))


def _titled(snap: GameSnapshot, label: str, extra: str = "", what: str = "") -> GameSnapshot:
    """The snapshot with its panel letter and a title: step, JSD and ``extra`` below."""
    js = theory.jsd(snap.p_data, snap.p_g, snap.grid)
    title = f"{what}step {snap.step}, JSD {js:.3f}" + (f"\n{extra}" if extra else "")
    return replace(snap, title=title, label=label)


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
