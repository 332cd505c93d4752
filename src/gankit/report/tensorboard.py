"""TensorBoard logging beside the run's own files (config: ``report.tensorboard = true``).

Writes RUN/tensorboard/ with the standard torch.utils.tensorboard writer: every training
scalar, every periodic metric other callbacks log, the fixed-noise sample grid each epoch, and
histograms of D's output (without dropout) on real and generated images. View with
``tensorboard --logdir RUN/tensorboard``.

Training scalars come from the records the trainer hands ``on_log``; the lines other callbacks
add to the metrics log reach it as they are written (a listener on ``trainer.metrics``), so
the log is never read back.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gankit.figures.grid import image_grid
from gankit.io.metrics_log import MetricsLog
from gankit.nets.noise import sample_noise
from gankit.rng import derived_seed
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer

HISTOGRAM_BATCH = 500  # real images (the first of the training set) and fakes per histogram
BOOKKEEPING = ("step", "epoch", "time")


class TensorBoardLogger(Callback):
    """Mirror the run into TensorBoard; draws nothing from the global RNG, so weights match."""

    def __init__(self) -> None:
        self.writer: Any = None
        self._noise = torch.empty(0)  # a fixed batch of z for the fakes' histogram
        self._log: MetricsLog | None = None  # the log it listens to while the writer is open

    def _open(self, trainer: Trainer) -> Any:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # On resume, events past the checkpoint's step belong to a lost segment: purge them.
            self.writer = SummaryWriter(str(trainer.run_dir / "tensorboard"),
                                        purge_step=trainer.step or None)
            # Lines written before this point were mirrored by the segment that wrote them.
            self._log = trainer.metrics
            self._log.listeners.append(self._mirror)
            # Its own generator and stream of the run's seed: the global RNG is left untouched.
            gen = torch.Generator().manual_seed(derived_seed(trainer.cfg.train.seed, 101))
            model = trainer.cfg.model
            self._noise = sample_noise(HISTOGRAM_BATCH, model.noise_dim, model.prior, "cpu", gen)
        return self.writer

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        writer = self._open(trainer)
        for key, value in record.items():
            if key not in BOOKKEEPING and _number(value):
                writer.add_scalar(f"train/{key}", value, record["step"])

    def on_epoch_end(self, trainer: Trainer) -> None:
        writer = self._open(trainer)
        g, d = trainer.g.net, trainer.d.net
        g_mode, d_mode = g.training, d.training
        g.eval()
        d.eval()  # no dropout masks: none drawn from the RNG, and D as it would judge
        try:
            with torch.no_grad():
                noise, real = self._noise.to(trainer.device), trainer.game.images[:HISTOGRAM_BATCH]
                if trainer.game.fixed_labels is None:
                    fakes = g(trainer.game.fixed_noise)
                    d_real, d_fake = d(real), d(g(noise))
                else:  # conditional: real images with their labels, fakes of every class
                    fakes = g(trainer.game.fixed_noise, trainer.game.fixed_labels)
                    y_real = trainer.game.labels[:HISTOGRAM_BATCH].to(trainer.device)
                    y_fake = torch.arange(len(noise), device=trainer.device) \
                        % trainer.cfg.condition.classes
                    d_real, d_fake = d(real, y_real), d(g(noise, y_fake), y_fake)
                d_real = torch.sigmoid(d_real).flatten().cpu()
                d_fake = torch.sigmoid(d_fake).flatten().cpu()
        finally:
            g.train(g_mode)
            d.train(d_mode)
        step = trainer.step
        writer.add_histogram("D_output/real", d_real, step, bins="auto")
        writer.add_histogram("D_output/fake", d_fake, step, bins="auto")
        grid = torch.from_numpy(image_grid(fakes, nrow=10))
        writer.add_image("samples/fixed_noise", grid, step,
                         dataformats="HW" if grid.ndim == 2 else "HWC")
        writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            if self._log is not None:
                self._log.listeners.remove(self._mirror)
                self._log = None
            self.writer.close()
            self.writer = None

    def _mirror(self, record: dict[str, Any]) -> None:
        """A metrics line as it is written: other callbacks' metrics become scalars; the
        training losses (mirrored by on_log) and events are left out."""
        if "event" in record or "d_loss" in record or not _number(record.get("step")):
            return
        for key, value in record.items():
            if key not in BOOKKEEPING and _number(value):
                self.writer.add_scalar(f"metrics/{key}", value, record["step"])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
