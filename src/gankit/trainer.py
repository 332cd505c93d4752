"""The training loop: one loop for every model; the update itself lives in gankit.schedules.

It owns the run's state (step, epoch, position in the epoch, RNG), writes logs, sample grids
and checkpoints, and restores all of it on resume so that a resumed CPU run ends bit-identical
to an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gankit import checkpoint as ckpt
from gankit.config import Config
from gankit.data import epoch_batches, load_for_model, to_unit
from gankit.devices import resolve_device
from gankit.distributed import DistContext, device_for, local_batch
from gankit.errors import CheckpointError, ConfigError, DivergenceError
from gankit.figures import save_grid
from gankit.losses import GENERATOR_LOSSES
from gankit.nets import build_discriminator, build_generator, generator_output
from gankit.noise import sample_noise
from gankit.optim import build_optimizer, momentum_at, set_momentum
from gankit.reliability import guarded_fit
from gankit.rng import shared_stream
from gankit.runs import CONFIG, METRICS, MetricsLog, NullLog, run_info, write_run_info
from gankit.schedules import Player, batches_per_step
from gankit.speed import apply_process_settings, build_step, subnormals_flushed

GRID_SIZE = 100  # the fixed noise batch drawn as a 10 x 10 grid every epoch


class Callback:
    """Something that runs beside the loop (periodic evaluation, monitors, extra loggers).

    Override what you need. ``on_epoch_end`` may return extra metrics, which the trainer writes
    to the metrics log as one line with the step and epoch. Callbacks must not draw from the
    global RNG, so that a run with them ends with the same weights as one without.

    In a data-parallel run callbacks run on rank 0 only, unless ``all_ranks`` is true: then
    every rank calls them at the same point (for collectives, e.g. sharing out the generation
    of evaluation samples) and only rank 0's return value is logged.
    """

    all_ranks = False

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """After each metrics line of the training losses is written."""

    def on_epoch_end(self, trainer: Trainer) -> dict[str, Any] | None:
        """After an epoch's grid and checkpoint are written."""
        return None

    def on_train_end(self, trainer: Trainer) -> None:
        """Once, when fit() returns normally or after a signal."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    checkpoint: Path | None
    stopped_by: int | None = None  # the signal number when a signal ended the run early


def derived_seed(*parts: int) -> int:
    """A 63-bit seed for a named stream (e.g. the data order of one epoch) of a run's seed."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> 1)


def validate(cfg: Config) -> None:
    """Checks that involve more than one value (single values are checked by gankit.config)."""
    if cfg.game.schedule == "simultaneous" and cfg.game.d_steps != 1:
        raise ConfigError(f"game.d_steps = {cfg.game.d_steps} needs game.schedule = "
                          "'alternating'; the simultaneous update takes one step of each player")
    if cfg.optim.lr_min > cfg.optim.lr:
        raise ConfigError(f"optim.lr_min = {cfg.optim.lr_min} exceeds optim.lr = {cfg.optim.lr}")
    cond = cfg.condition
    if cond.classes == 0 and cond.aux_weight > 0:
        raise ConfigError("condition.aux_weight > 0 (AC-GAN) needs condition.classes > 0")
    if cond.classes and cond.d_input == "none" and cond.aux_weight == 0:
        raise ConfigError("condition.d_input = 'none' hides the class from D; give it a class "
                          "loss with condition.aux_weight > 0 (AC-GAN) or use 'concat'")
    if cfg.game.name == "discogan":
        _validate_discogan(cfg)


def _validate_discogan(cfg: Config) -> None:
    """What DiscoGAN does not support: its generators map images, they take no noise."""
    if cfg.condition.classes:
        raise ConfigError("DiscoGAN is not conditional; drop condition.classes")
    noise_only = [name for name, on in (("eval.every", cfg.eval.every),
                                        ("monitor.collapse_every", cfg.monitor.collapse_every),
                                        ("report.tensorboard", cfg.report.tensorboard),
                                        ("speed.step", cfg.speed.step == "fused"),
                                        ("speed.compile", cfg.speed.compile),
                                        ("speed.autocast", cfg.speed.autocast != "none")) if on]
    if noise_only:
        raise ConfigError(f"{', '.join(noise_only)} is not supported by DiscoGAN (its "
                          "generators map images, they take no noise, and its step is its "
                          "own); turn it off (score maps with benchmarks/discogan_mnist.py)")


def build_game(cfg: Config, device: torch.device) -> Any:
    """Another game than the 2014 GAN, chosen by ``game.name``; None for the GAN itself.

    A game gives the trainer its data, the two players' networks, the update step, the epoch's
    batches and the sample grids (see gankit.discogan.game.DiscoGame).
    """
    if cfg.game.name == "discogan":
        from gankit.discogan.game import DiscoGame  # two domains, two G, two D

        return DiscoGame(cfg, device)
    return None


class _StopRequests:
    """SIGINT/SIGTERM ask the loop to stop after the current step; a second one stops at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, resume_from: Path | None = None,
                 progress: bool = True, callbacks: list[Callback] | None = None,
                 dist: DistContext | None = None) -> None:
        validate(cfg)
        self.dist = dist or DistContext()
        main = self.dist.is_main
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress and main
        self.callbacks = [cb for cb in callbacks or [] if main or cb.all_ranks]
        self.device = device_for(self.dist, cfg.train.device) or resolve_device(cfg.train.device)
        self.local_batch = local_batch(cfg.train.batch_size, self.dist)
        if cfg.monitor.collapse_every:
            from gankit.monitor import CollapseMonitor

            self.callbacks.append(CollapseMonitor(cfg.monitor.collapse_every,
                                                  cfg.monitor.collapse_samples))
        torch.manual_seed(cfg.train.seed)
        if self.dist.active and cfg.game.name == "discogan":
            raise ConfigError("DiscoGAN trains in one process for now; drop --nproc")
        self.game = build_game(cfg, self.device)
        self.labels = None
        if self.game is not None:
            self.data = self.game.data
        else:
            self.data = load_for_model(cfg.data, generator_output(cfg.model))
            self.images = self.data.images.to(self.device)
            self.labels = self._labels(cfg) if cfg.condition.classes else None
        bs = cfg.train.batch_size
        if bs > len(self.data):
            raise ConfigError(f"train.batch_size = {bs} exceeds the {len(self.data)} training "
                              f"images of {cfg.data.name}; use a smaller batch")
        self.per_step = batches_per_step(cfg.game.schedule, cfg.game.d_steps)
        self.steps_per_epoch = len(self.data) // bs // self.per_step
        if self.steps_per_epoch == 0:
            raise ConfigError(f"an epoch of {len(self.data)} images holds no full iteration of "
                              f"{self.per_step} batches of {bs}; lower game.d_steps or the batch")
        if self.game is not None:
            g_net, d_net = self.game.g_net, self.game.d_net
        else:
            g_net = build_generator(cfg.model, self.data.shape, self.data.pixel_mean(),
                                    cfg.condition)
            d_net = build_discriminator(cfg.model, self.data.shape, cfg.condition)
        self.g = Player(g_net.to(self.device), *build_optimizer(cfg.optim, g_net.parameters()),
                        self.dist.wrap(g_net, self.device, cfg.train.sync_batchnorm))
        self.d = Player(d_net.to(self.device), *build_optimizer(cfg.optim, d_net.parameters()),
                        self.dist.wrap(d_net, self.device, cfg.train.sync_batchnorm))
        # Noise and dropout masks: one stream, the same on every rank (see gankit.rng).
        self.stream = torch.Generator(self.device).manual_seed(derived_seed(cfg.train.seed, 3))
        self.g_loss = GENERATOR_LOSSES[cfg.game.g_loss]
        apply_process_settings(cfg)
        self.step_fn = (build_step(cfg, self.g, self.d, self.g_loss, self.dist.active)
                        if self.game is None else self.game.step_fn)
        fixed = torch.Generator().manual_seed(derived_seed(cfg.train.seed, 1))
        self.fixed_noise = (sample_noise(GRID_SIZE, cfg.model.noise_dim, cfg.model.prior, "cpu",
                                         fixed) if self.game is None
                            else self.game.fixed_input).to(self.device)  # the grids' input
        # Conditional runs: each row of the grid is one z, each column one class.
        self.fixed_labels = None
        if cfg.condition.classes:
            k = min(cfg.condition.classes, 10)
            self.fixed_noise = self.fixed_noise[:GRID_SIZE // k].repeat_interleave(k, 0)
            self.fixed_labels = torch.arange(k, device=self.device).repeat(GRID_SIZE // k)
        self.step = self.epoch = self.batch_in_epoch = 0
        self._compile_logged = False
        self.train_seconds = 0.0
        self.metrics = MetricsLog(self.run_dir / METRICS) if main else NullLog()
        self.last_checkpoint: Path | None = None
        # Step at which each player's (D, G) loss was first non-finite, -1 while finite; kept
        # on the device so that the check costs no host synchronisation per step.
        self._first_bad = torch.full((2,), -1, device=self.device)
        if resume_from is not None:
            self._load(resume_from)
        elif main:
            ckpt.write_text_atomic(self.run_dir / CONFIG, cfg.to_toml())
            info = run_info(cfg.train.seed, self.device) | {"processes": self.dist.world}
            write_run_info(self.run_dir, info)

    def _labels(self, cfg: Config) -> torch.Tensor:
        """The training labels a conditional run needs, checked against condition.classes."""
        labels = self.data.labels
        if labels is None:
            raise ConfigError(f"condition.classes = {cfg.condition.classes} needs a labelled "
                              f"dataset; {cfg.data.name} has no labels")
        if int(labels.min()) < 0 or int(labels.max()) >= cfg.condition.classes:
            raise ConfigError(f"{cfg.data.name} has labels {int(labels.min())}..."
                              f"{int(labels.max())}; condition.classes = "
                              f"{cfg.condition.classes} must exceed the largest")
        return labels.to(self.device)

    # ----------------------------------------------------------------- state
    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"G/{k}": v for k, v in self.g.net.state_dict().items()}
        tensors |= {f"D/{k}": v for k, v in self.d.net.state_dict().items()}
        state: dict[str, Any] = {}
        for name, player in (("G", self.g), ("D", self.d)):
            t, tree = ckpt.flatten_state(f"opt_{name}", player.opt.state_dict())
            tensors |= t
            state[f"opt_{name}"] = tree
            state[f"lr_{name}"] = player.lr_schedule.state_dict()
        tensors["rng/cpu"] = torch.get_rng_state()
        tensors["rng/stream"] = self.stream.get_state()
        if self.device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(self.device)
        state |= {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                  "train_seconds": self.train_seconds, "config": self.cfg.to_dict(),
                  "image_shape": list(self.data.shape)}
        return tensors, state

    def _load(self, path: Path) -> None:
        tensors, state = ckpt.read_checkpoint(path)
        try:
            for prefix, net in (("G/", self.g.net), ("D/", self.d.net)):
                net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                     if k.startswith(prefix)})
            for name, player in (("G", self.g), ("D", self.d)):
                player.opt.load_state_dict(ckpt.unflatten_state(state[f"opt_{name}"], tensors))
                player.lr_schedule.load_state_dict(state[f"lr_{name}"])
            torch.set_rng_state(tensors["rng/cpu"])
            self.stream.set_state(tensors["rng/stream"])
            if "rng/cuda" in tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng/cuda"], self.device)
            self.step, self.epoch, self.batch_in_epoch = (
                int(state[k]) for k in ("step", "epoch", "batch_in_epoch"))
            self.train_seconds = float(state.get("train_seconds", 0.0))
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"checkpoint {path} does not fit this model ({first}); resume "
                                  "with the config the run was started with") from None
        self.last_checkpoint = path
        self.metrics.truncate_after(self.step)
        self.metrics.write({"event": "resumed", "step": self.step, "epoch": self.epoch,
                            "checkpoint": path.name,
                            "speed": asdict(self.cfg.speed)})

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint (rank 0 only: the state is the same on every rank)."""
        self._check_weights()
        if not self.dist.is_main:
            return None
        name = f"epoch-{self.epoch:04d}" + (f"-step-{self.step:08d}" if self.batch_in_epoch else "")
        tensors, state = self._state()
        root = self.run_dir / "checkpoints"
        self.last_checkpoint = ckpt.save_checkpoint(root, name, tensors, state)
        ckpt.prune(root, self.cfg.train.keep_checkpoints)
        return self.last_checkpoint

    # ----------------------------------------------------------------- checks
    def _diverged(self, player: str, what: str, step: int | None = None) -> DivergenceError:
        kept = (f"the last good checkpoint {self.last_checkpoint} was kept"
                if self.last_checkpoint else "no checkpoint had been written yet")
        step = self.step if step is None else step
        self.metrics.write({"event": "diverged", "step": step, "player": player})
        return DivergenceError(f"training diverged at step {step} (epoch {self.epoch + 1}): "
                               f"the {player}'s {what} became NaN or inf; {kept}; lower "
                               "optim.lr or resume from that checkpoint")

    def _check_weights(self) -> None:
        for name, player in (("generator", self.g), ("discriminator", self.d)):
            if not all(torch.isfinite(p).all() for p in player.net.parameters()):
                raise self._diverged(name, "weights")

    # ----------------------------------------------------------------- loop
    def _log(self, sums: list[torch.Tensor], count: int, seconds: float) -> dict[str, float]:
        self.dist.sum_(sums)  # every rank's share of the global batch
        d_loss, g_loss, d_real, d_fake = (float(s) / (count * self.dist.world) for s in sums)
        if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
            # Blame the player whose loss went bad first; NaN spreads to the other a step later.
            d_first, g_first = (int(v) for v in self._first_bad)
            first = min(v for v in (d_first, g_first) if v >= 0)
            players = [n for n, v in (("discriminator", d_first), ("generator", g_first))
                       if v == first]
            raise self._diverged(" and ".join(players), "loss", first)
        record = {"step": self.step, "epoch": self.epoch + 1, "d_loss": d_loss, "g_loss": g_loss,
                  "d_real": d_real, "d_fake": d_fake, "lr": self.d.lr,
                  "momentum": self.d.opt.param_groups[0].get("momentum"),
                  "samples_per_s": count * self.per_step * self.cfg.train.batch_size / seconds,
                  "time": round(self.train_seconds, 3)}
        self.metrics.write(record)
        for cb in self.callbacks:
            cb.on_log(self, record)
        return record

    def _write_grid(self) -> None:
        # Eval mode: a batch-norm G uses its running statistics and does not update them, so
        # drawing the grid leaves training (and resume) exactly as without it.
        self.g.net.eval()
        try:
            with torch.no_grad():
                if self.game is not None:  # the game's own figure, already in [0, 1]
                    images = self.game.grid(self.g.net, self.fixed_noise)
                elif self.fixed_labels is None:
                    images = to_unit(self.g.net(self.fixed_noise),
                                     generator_output(self.cfg.model))
                else:
                    images = to_unit(self.g.net(self.fixed_noise, self.fixed_labels),
                                     generator_output(self.cfg.model))
        finally:
            self.g.net.train()
        if images.ndim == 2:  # points of a low-dimensional distribution: plot, not a grid
            from gankit.game_figures import save_sample_plot

            fixed = torch.Generator(self.device).manual_seed(derived_seed(self.cfg.train.seed, 1))
            with torch.no_grad():
                points = self.g.net(self.g.net.sample_noise(2000, fixed))
            save_sample_plot(points, self.data.distribution,
                             self.run_dir / "samples" / f"epoch-{self.epoch:04d}.png",
                             f"epoch {self.epoch}, step {self.step}")
            return
        h = images.shape[-1]
        save_grid(images, self.run_dir / "samples" / f"epoch-{self.epoch:04d}.png", nrow=10,
                  scale=max(1, 56 // h))

    def _budget_spent(self) -> bool:
        return 0 < self.cfg.train.max_steps <= self.step

    def _run_epoch(self, stop: _StopRequests) -> bool:
        """Train until the epoch ends, the step budget is spent or a signal asks to stop.

        Returns True when the epoch ran to its end.
        """
        cfg = self.cfg.train
        for p in (self.g, self.d):
            set_momentum(p.opt, momentum_at(self.cfg.optim, self.epoch + 1))
        order = torch.Generator().manual_seed(derived_seed(cfg.seed, 2, self.epoch + 1))
        # The epoch's indices go to the device once, not one small copy per step.
        batches = torch.stack(epoch_batches(len(self.data), cfg.batch_size, order)
                              if self.game is None
                              else self.game.epoch_batches(cfg.batch_size, order)).to(self.device)
        end = self.steps_per_epoch * self.per_step
        bar = tqdm(total=self.steps_per_epoch, initial=self.batch_in_epoch // self.per_step,
                   desc=f"epoch {self.epoch + 1}", leave=False,
                   disable=None if self.progress else True, dynamic_ncols=True)
        sums = [torch.zeros((), device=self.device) for _ in range(4)]
        count, tick = 0, time.perf_counter()
        try:
            while self.batch_in_epoch < end:
                lo, hi = self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch
                idx = [i[..., lo:hi].to(self.device) for i in
                       batches[self.batch_in_epoch:self.batch_in_epoch + self.per_step]]
                ys = None if self.labels is None else [self.labels[i] for i in idx]
                reals = ([self.images[i] for i in idx] if self.game is None
                         else [self.game.batch(i) for i in idx])
                with shared_stream(self.stream, self.dist.shard):
                    stats = self.step_fn(self.g, self.d, reals, self.g_loss, ys,
                                         self.cfg.condition.aux_weight)
                if getattr(self.step_fn, "compile_seconds", None) and not self._compile_logged:
                    self._compile_logged = True
                    self.metrics.write({"event": "compiled", "step": self.step + 1,
                                        "seconds": round(self.step_fn.compile_seconds, 3)})
                self.step += 1
                self.batch_in_epoch += self.per_step
                count += 1
                for total, value in zip(sums, stats, strict=True):
                    total += value
                bad = ~torch.isfinite(torch.stack([stats.d_loss, stats.g_loss]))
                self._first_bad = torch.where(bad & (self._first_bad < 0), self.step,
                                              self._first_bad)
                bar.update(1)
                if self.dist.active and self.dist.any(stop.signum is not None, self.device):
                    stop.signum = stop.signum or signal.SIGTERM  # another rank was signalled
                interrupted = stop.signum is not None or self._budget_spent()
                if self.step % cfg.log_every == 0 or interrupted or self.batch_in_epoch == end:
                    elapsed = time.perf_counter() - tick
                    self.train_seconds += elapsed
                    rec = self._log(sums, count, elapsed)
                    bar.set_postfix(D=f"{rec['d_loss']:.3f}", G=f"{rec['g_loss']:.3f}",
                                    Dx=f"{rec['d_real']:.2f}", DGz=f"{rec['d_fake']:.2f}",
                                    sps=f"{rec['samples_per_s']:.0f}", refresh=False)
                    sums = [torch.zeros((), device=self.device) for _ in range(4)]
                    count, tick = 0, time.perf_counter()
                if interrupted and self.batch_in_epoch < end:
                    return False
        finally:
            bar.close()
        return True

    def _end_epoch(self) -> None:
        cfg = self.cfg.train
        self.epoch += 1
        self.batch_in_epoch = 0
        if cfg.sample_every and self.epoch % cfg.sample_every == 0 and self.dist.is_main:
            self._write_grid()
        if self.epoch % cfg.checkpoint_every == 0 or self.epoch == cfg.epochs \
                or self._budget_spent():
            self.save_checkpoint()
        for cb in self.callbacks:
            extra = cb.on_epoch_end(self)
            if extra:
                self.metrics.write({"step": self.step, "epoch": self.epoch, **extra})
        self.metrics.write({"event": "epoch_end", "step": self.step, "epoch": self.epoch,
                            "time": round(self.train_seconds, 3)})
        if self.progress:
            tqdm.write(f"epoch {self.epoch}: step {self.step}, {self.train_seconds:.0f}s of "
                       "training")

    def fit(self) -> TrainResult:
        try:
            with subnormals_flushed(self.cfg.speed.flush_denormal):
                return guarded_fit(self, self._fit)
        finally:
            for cb in self.callbacks:
                cb.on_train_end(self)

    def _fit(self) -> TrainResult:
        epochs = self.cfg.train.epochs
        with _StopRequests() as stop:
            while (epochs == 0 or self.epoch < epochs) and not self._budget_spent():
                if self._run_epoch(stop):
                    self._end_epoch()
                    if stop.signum is None:
                        continue
                else:
                    self.save_checkpoint()
                if stop.signum is not None:
                    self.metrics.write({"event": "stopped", "step": self.step,
                                        "signal": stop.signum})
                    return TrainResult(self.run_dir, self.step, self.epoch,
                                       self.last_checkpoint, stop.signum)
        return TrainResult(self.run_dir, self.step, self.epoch, self.last_checkpoint)
