"""A collapse monitor the trainer runs every N steps (``monitor.collapse_every``).

Where the data's modes are known it reads G's samples with the data's reader
(gankit.training.mode_readers): the modes of a toy mixture G covers, or the class histogram of
MNIST (the digit triples of Stacked MNIST) by the shipped classifier. On other data it measures
sample diversity: the mean pairwise distance between features of G's samples divided by the
same for real samples (1 for a G as varied as the data, near 0 when G repeats itself). Features
are the flattened samples unless a feature network is given. Each measurement is one line of
the metrics log; a warning goes to the progress output and to the log (a ``collapse_warning``
event, which the report counts) when the reader sees collapse or diversity falls below
``DIVERSITY_WARN``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.rng import derived_seed
from gankit.training.callbacks import Callback
from gankit.training.mode_readers import MixtureReader, ModeReader
from gankit.training.trainer import Trainer

DIVERSITY_WARN = 0.5
# monitor.collapse_every = -1 (auto): steps between measurements, chosen so that measuring
# costs under 2% of training time (docs/game.md has the measurement).
AUTO_COLLAPSE_EVERY = 250
Features = Callable[[torch.Tensor], torch.Tensor]


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of distinct rows of ``x`` (n, d)."""
    x = x.reshape(len(x), -1).double()
    n = len(x)
    if n < 2:
        raise ValueError("pairwise distances need at least two samples")
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


class CollapseMonitor(Callback):
    """Measures mode coverage or diversity of ``samples`` draws from G every ``every`` steps.

    Draws its noise and its real subset from its own seeded generators and puts G in eval mode
    while sampling, so a monitored run ends with the same weights as an unmonitored one. In a
    data-parallel run each rank generates its share of the samples and rank 0 measures.
    """

    all_ranks = True

    def __init__(self, every: int, samples: int = 1000, features: Features | None = None,
                 reader: ModeReader | None = None) -> None:
        if every < 1 or samples < 2:
            raise ValueError("the collapse monitor needs every >= 1 and samples >= 2")
        self.every, self.samples, self.features = every, samples, features
        self.reader = reader  # None: the data's mixture modes if it has them, else diversity
        self._slot = 0  # measure at the first log at or after each multiple of ``every``
        self._real_diversity: float | None = None
        self._warned: Any = None

    def _featurise(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return (self.features(x) if self.features else x).reshape(len(x), -1).cpu()

    @torch.no_grad()
    def measure(self, trainer: Trainer) -> dict[str, Any]:
        """The measurement as a metrics line; {} on the ranks other than 0, which only help
        generate the samples."""
        seed = trainer.cfg.train.seed
        g = trainer.g.net
        was_training = g.training
        g.eval()
        try:
            noise = g.sample_noise(self.samples, torch.Generator(trainer.device).manual_seed(
                derived_seed(seed, 3)))
            lo, hi = trainer.dist.rows(self.samples)
            classes = getattr(g, "classes", 0)  # a conditional G: every class in turn
            y = (torch.arange(self.samples, device=noise.device) % classes)[lo:hi] \
                if classes else None
            part = g(noise[lo:hi]) if y is None else g(noise[lo:hi], y)
            fake = trainer.dist.gather_rows(part, self.samples)
        finally:
            g.train(was_training)
        if not trainer.dist.is_main:
            return {}
        dist = getattr(trainer.data, "distribution", None)
        if self.reader is None and getattr(dist, "modes", None) is not None:
            self.reader = MixtureReader(dist)
        if self.reader is not None:
            return {"monitor": "collapse",
                    **self.reader.read(fake, getattr(g, "output", "sigmoid"))}
        if self._real_diversity is None:
            pick = torch.randperm(len(trainer.data), generator=torch.Generator().manual_seed(
                derived_seed(seed, 4)))[:self.samples]
            self._real_diversity = mean_pairwise_distance(
                self._featurise(trainer.game.images[pick.to(trainer.game.images.device)]))
        ratio = mean_pairwise_distance(self._featurise(fake)) / self._real_diversity
        return {"monitor": "collapse", "diversity": ratio}

    def _collapse(self, m: dict[str, Any]) -> tuple[Any, str]:
        """What collapsed (None: nothing) and the message that says so."""
        if self.reader is not None:
            return self.reader.collapse(m) or (None, "")
        low = m["diversity"] < DIVERSITY_WARN
        return low or None, (f"sample diversity {m['diversity']:.2f} of the real data's (below "
                             f"{DIVERSITY_WARN})")

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        slot = trainer.step // self.every
        if slot <= self._slot:
            return
        self._slot = slot
        m = self.measure(trainer)  # every rank takes part in generating the samples
        if not m:
            return
        at = {"step": trainer.step, "epoch": trainer.epoch + 1}
        trainer.metrics.write({**at, **m})
        # One warning per change of what collapsed, not per measurement; a note on recovery.
        key, message = self._collapse(m)
        if key is not None and key != self._warned:
            trainer.metrics.write({"event": "collapse_warning", **at, "message": message})
            tqdm.write(f"gankit: warning: possible mode collapse at step {trainer.step}: "
                       f"{message}", file=sys.stderr)
        elif key is None and self._warned is not None:
            trainer.metrics.write({"event": "monitor_recovered", **at})
            tqdm.write(f"gankit: note: at step {trainer.step} the collapse monitor sees no "
                       "collapse any more", file=sys.stderr)
        self._warned = key
