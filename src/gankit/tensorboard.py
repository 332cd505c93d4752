"""TensorBoard logging beside the run's own files (config: ``report.tensorboard = true``).

Writes RUN/tensorboard/ with the standard torch.utils.tensorboard writer: every training
scalar, every periodic metric other callbacks log, the fixed-noise sample grid each epoch, and
histograms of D's output (without dropout) on real and generated images. View with
``tensorboard --logdir RUN/tensorboard``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch

from gankit.figures import image_grid
from gankit.noise import sample_noise
from gankit.rng import derived_seed
from gankit.runs import METRICS
from gankit.training.callbacks import Callback
from gankit.training.trainer import Trainer

HISTOGRAM_BATCH = 500  # real images (the first of the training set) and fakes per histogram
BOOKKEEPING = ("step", "epoch", "time")


class TensorBoardLogger(Callback):
    """Mirror the run into TensorBoard; draws nothing from the global RNG, so weights match."""

    def __init__(self) -> None:
        self.writer: Any = None
        self._noise = torch.empty(0)  # a fixed batch of z for the fakes' histogram
        self._read_to = 0  # bytes of the metrics log already mirrored

    def _open(self, trainer: Trainer) -> Any:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # On resume, events past the checkpoint's step belong to a lost segment: purge them.
            self.writer = SummaryWriter(str(trainer.run_dir / "tensorboard"),
                                        purge_step=trainer.step or None)
            log = trainer.run_dir / METRICS
            # Lines written before this segment were mirrored by the segment that wrote them.
            self._read_to = log.stat().st_size if log.exists() else 0
            # Its own generator and stream of the run's seed: the global RNG is left untouched.
            gen = torch.Generator().manual_seed(derived_seed(trainer.cfg.train.seed, 101))
            model = trainer.cfg.model
            self._noise = sample_noise(HISTOGRAM_BATCH, model.noise_dim, model.prior, "cpu", gen)
        return self.writer

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        writer = self._open(trainer)
        self._mirror_new_lines(trainer)  # what other callbacks logged since the last line
        for key, value in record.items():
            if key not in BOOKKEEPING and _number(value):
                writer.add_scalar(f"train/{key}", value, record["step"])
        self._read_to = (trainer.run_dir / METRICS).stat().st_size

    def on_epoch_end(self, trainer: Trainer) -> None:
        writer = self._open(trainer)
        self._mirror_new_lines(trainer)
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
            self._mirror_new_lines(trainer)
            self.writer.close()
            self.writer = None

    def _mirror_new_lines(self, trainer: Trainer) -> None:
        """Periodic metrics and events other callbacks wrote to the log, as scalars."""
        log = trainer.run_dir / METRICS
        if not log.exists():
            return
        with log.open("rb") as f:
            f.seek(self._read_to)
            chunk = f.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self._read_to += len(complete)
        for line in complete.decode("utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "event" in record or "d_loss" in record \
                    or not _number(record.get("step")):
                continue
            for key, value in record.items():
                if key not in BOOKKEEPING and _number(value):
                    self.writer.add_scalar(f"metrics/{key}", value, record["step"])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
