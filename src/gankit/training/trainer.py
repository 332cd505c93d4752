"""The training loop: one loop for every game (``gankit.core.game``); it never asks which.

It owns the run's position (step, epoch, place in the epoch) and RNG, asks the game for batches
and the configured step (``gankit.core.step``) for updates, writes logs, sample figures and
checkpoints, tells callbacks, and restores all of it on resume, so that a resumed CPU run ends
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gankit.config import Config
from gankit.core.game import Game
from gankit.core.optim import build_optimizer, momentum_at, set_momentum
from gankit.core.players import Player, StepStats
from gankit.core.schedules import batches_per_step
from gankit.core.step import apply_process_settings, build_step, subnormals_flushed
from gankit.distributed import DistContext, local_batch
from gankit.errors import ConfigError, DivergenceError
from gankit.io import checkpoint as ckpt
from gankit.io.atomic import write_text_atomic
from gankit.io.metrics_log import METRICS, MetricsLog, NullLog
from gankit.io.run_dir import CONFIG, run_info, write_run_info
from gankit.rng import derived_seed, shared_stream
from gankit.training.callbacks import Callback
from gankit.training.ema import GeneratorEMA
from gankit.training.faults import guarded_fit
from gankit.training.state import load_state, state_tensors
from gankit.training.stop import StopRequests

__all__ = ["Callback", "TrainResult", "Trainer"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    checkpoint: Path | None
    stopped_by: int | None = None  # the signal number when a stop request ended the run early
    samples: Path | None = None  # samples/final.png, drawn when the run ended (rank 0)


class Trainer:
    """Trains ``game`` as ``cfg`` says, in ``run_dir``.

    Public surface beyond ``fit``: ``request_stop`` (end after the current step, with a
    checkpoint), ``restore`` (go back to a checkpoint, e.g. the last good one), ``save_checkpoint``
    and the events of ``Callback``.
    """

    def __init__(self, cfg: Config, game: Game, run_dir: Path, resume_from: Path | None = None,
                 progress: bool = True, callbacks: list[Callback] | None = None,
                 dist: DistContext | None = None) -> None:
        self.dist = dist or DistContext()
        main = self.dist.is_main
        self.cfg, self.game, self.run_dir = cfg, game, Path(run_dir)
        self.progress = progress and main
        self.callbacks = [cb for cb in callbacks or [] if main or cb.all_ranks]
        self.device = game.device
        self.data = game.data
        self.local_batch = local_batch(cfg.train.batch_size, self.dist)
        self._check_batches()
        self.g = self._player(game.g_net, "g")
        self.d = self._player(game.d_net, "d")
        self.ema = GeneratorEMA.for_config(cfg.train, self.g.net)  # None when train.ema = 0
        # Noise and dropout masks: one stream, the same on every rank (see gankit.rng).
        self.stream = torch.Generator(self.device).manual_seed(derived_seed(cfg.train.seed, 3))
        self._threads_outside = torch.get_num_threads()  # given back when fit() ends
        apply_process_settings(cfg)
        self.step_fn = build_step(cfg, game.objective, self.g, self.d, game.fusable,
                                  self.dist.active)
        self.step = self.epoch = self.batch_in_epoch = 0
        self._compile_logged = False
        self.train_seconds = 0.0
        self.stop_requested: int | None = None
        self.metrics = MetricsLog(self.run_dir / METRICS) if main else NullLog()
        self.last_checkpoint: Path | None = None
        # Step at which each player's (D, G) loss was first non-finite, -1 while finite; kept
        # on the device so that the check costs no host synchronisation per step.
        self._first_bad = torch.full((2,), -1, device=self.device)
        if resume_from is not None:
            self.restore(resume_from)
        elif main:
            write_text_atomic(self.run_dir / CONFIG, cfg.to_toml())
            info = run_info(cfg.train.seed, self.device) | {"processes": self.dist.world}
            write_run_info(self.run_dir, info)

    def _check_batches(self) -> None:
        bs, n = self.cfg.train.batch_size, len(self.data)
        if bs > n:
            raise ConfigError(f"train.batch_size = {bs} exceeds the {n} training "
                              f"images of {self.cfg.data.name}; use a smaller batch")
        self.per_step = batches_per_step(self.cfg.game.schedule, self.cfg.game.d_steps)
        self.steps_per_epoch = n // bs // self.per_step
        if self.steps_per_epoch == 0:
            raise ConfigError(f"an epoch of {n} images holds no full iteration of "
                              f"{self.per_step} batches of {bs}; lower game.d_steps or the batch")

    def _player(self, net: torch.nn.Module, name: str) -> Player:
        net = net.to(self.device)
        return Player(net, *build_optimizer(self.cfg.optim, net.parameters(), name),
                      self.dist.wrap(net, self.device, self.cfg.train.sync_batchnorm))

    # ----------------------------------------------------------------- public surface
    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """End the run after the current step, writing a checkpoint, as SIGTERM does."""
        self.stop_requested = self.stop_requested or signum

    def restore(self, path: Path) -> None:
        """Go back to the checkpoint at ``path``: weights, optimisers, schedules, RNG and
        position; the metrics log loses the lines written after it and records the resume."""
        load_state(self, path)
        self._first_bad.fill_(-1)
        self.last_checkpoint = path
        self.metrics.truncate_after(self.step)
        self.metrics.write({"event": "resumed", "step": self.step, "epoch": self.epoch,
                            "checkpoint": path.name, "speed": asdict(self.cfg.speed)})

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint (rank 0 only: the state is the same on every rank)."""
        self._check_weights()
        if not self.dist.is_main:
            return None
        name = f"epoch-{self.epoch:04d}" + (f"-step-{self.step:08d}" if self.batch_in_epoch else "")
        tensors, state = state_tensors(self)
        root = self.run_dir / "checkpoints"
        self.last_checkpoint = ckpt.save_checkpoint(root, name, tensors, state)
        ckpt.prune(root, self.cfg.train.keep_checkpoints)
        for cb in self.callbacks:
            cb.on_checkpoint(self, self.last_checkpoint)
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

    @property
    def sampled_g(self) -> torch.nn.Module:
        """The generator whose samples the run shows: the EMA of G when train.ema > 0, else G."""
        return self.g.net if self.ema is None else self.ema.net

    def write_samples(self, name: str | None = None) -> Path:
        """The game's figure of the sampled generator from its fixed input, under samples/;
        with an EMA, G's own figure beside it as NAME-raw.png."""
        name = name or f"epoch-{self.epoch:04d}"
        path = self.run_dir / "samples" / f"{name}.png"
        title = f"epoch {self.epoch}, step {self.step}"
        self.game.draw_samples(self.sampled_g, path, title)
        if self.ema is not None:
            self.game.draw_samples(self.g.net, path.with_name(f"{name}-raw.png"), title + ", raw G")
        return path

    def _budget_spent(self) -> bool:
        return 0 < self.cfg.train.max_steps <= self.step

    def _epoch_batches(self) -> torch.Tensor:
        order = torch.Generator().manual_seed(derived_seed(self.cfg.train.seed, 2, self.epoch + 1))
        # The epoch's indices go to the device once, not one small copy per step.
        return torch.stack(self.game.epoch_batches(self.cfg.train.batch_size,
                                                   order)).to(self.device)

    def _train_step(self, batches: torch.Tensor) -> StepStats:
        lo, hi = self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch
        minibatches = [self.game.batch(i[..., lo:hi].to(self.device)) for i in
                       batches[self.batch_in_epoch:self.batch_in_epoch + self.per_step]]
        with shared_stream(self.stream, self.dist.shard):
            stats = self.step_fn(self.g, self.d, minibatches)
        if getattr(self.step_fn, "compile_seconds", None) and not self._compile_logged:
            self._compile_logged = True
            self.metrics.write({"event": "compiled", "step": self.step + 1,
                                "seconds": round(self.step_fn.compile_seconds, 3)})
        self.step += 1
        self.batch_in_epoch += self.per_step
        if self.ema is not None:  # every step updates G once, whatever the schedule
            self.ema.update(self.g.net, self.step)
        bad = ~torch.isfinite(torch.stack([stats.d_loss, stats.g_loss]))
        self._first_bad = torch.where(bad & (self._first_bad < 0), self.step, self._first_bad)
        return stats

    def _run_epoch(self) -> bool:
        """Train until the epoch ends, the step budget is spent or a stop is requested.

        Returns True when the epoch ran to its end.
        """
        for p in (self.g, self.d):
            set_momentum(p.opt, momentum_at(self.cfg.optim, self.epoch + 1))
        batches = self._epoch_batches()
        end = self.steps_per_epoch * self.per_step
        bar = tqdm(total=self.steps_per_epoch, initial=self.batch_in_epoch // self.per_step,
                   desc=f"epoch {self.epoch + 1}", leave=False,
                   disable=None if self.progress else True, dynamic_ncols=True)
        sums = [torch.zeros((), device=self.device) for _ in range(4)]
        count, tick = 0, time.perf_counter()
        try:
            while self.batch_in_epoch < end:
                stats = self._train_step(batches)
                count += 1
                for total, value in zip(sums, stats, strict=True):
                    total += value
                bar.update(1)
                if self.dist.active and self.dist.any(self.stop_requested is not None,
                                                      self.device):
                    self.request_stop()  # another rank was asked to stop
                interrupted = self.stop_requested is not None or self._budget_spent()
                if (self.step % self.cfg.train.log_every == 0 or interrupted
                        or self.batch_in_epoch == end):
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
            self.write_samples()
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
        apply_process_settings(self.cfg)  # again, should an earlier fit() have given them back
        try:
            with subnormals_flushed(self.cfg.speed.flush_denormal):
                result = guarded_fit(self, self._fit)
            if self.dist.is_main:  # however short the run, it ends with a picture (not diverged)
                result.samples = self.write_samples("final")
            return result
        finally:
            for cb in self.callbacks:
                cb.on_train_end(self)
            torch.set_num_threads(self._threads_outside)  # the process's own setting again

    def _fit(self) -> TrainResult:
        epochs = self.cfg.train.epochs
        with StopRequests(self.request_stop):
            while (epochs == 0 or self.epoch < epochs) and not self._budget_spent():
                if self._run_epoch():
                    self._end_epoch()
                    if self.stop_requested is None:
                        continue
                else:
                    self.save_checkpoint()
                if self.stop_requested is not None:
                    self.metrics.write({"event": "stopped", "step": self.step,
                                        "signal": self.stop_requested})
                    return TrainResult(self.run_dir, self.step, self.epoch,
                                       self.last_checkpoint, self.stop_requested)
        return TrainResult(self.run_dir, self.step, self.epoch, self.last_checkpoint)
