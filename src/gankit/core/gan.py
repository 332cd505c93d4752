"""The GAN game of the 2014 paper and the models that kept its two players: the paper's MLPs
and convolutional nets, DCGAN, conditional GANs (class labels in the batch, AC-GAN's class
term in the objective), and the 1-D and 2-D toy games.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gankit.config import Config
from gankit.core.augment import augmentation
from gankit.core.game import Batch
from gankit.core.losses import GENERATOR_LOSSES, loss_pair
from gankit.core.objective import GanObjective
from gankit.core.penalties import Regularisers
from gankit.data import epoch_batches, load_for_model, to_unit
from gankit.errors import ConfigError
from gankit.figures.grid import save_grid
from gankit.nets import build_generator, generator_output
from gankit.nets.noise import sample_noise
from gankit.nets.stabilise import build_stabilised_discriminator
from gankit.rng import derived_seed

Tensor = torch.Tensor
GRID_SIZE = 100  # the fixed noise batch drawn as a 10 x 10 grid every epoch
PLOT_POINTS = 2000  # samples drawn in the figure of a 1-D or 2-D game


def gan_objective(cfg: Config) -> GanObjective:
    """The objective of ``game.loss`` / ``game.g_loss`` with the regularisers of ``[reg]`` and
    the augmentation of ``data.augment``."""
    reg = cfg.reg
    return GanObjective(GENERATOR_LOSSES[cfg.game.g_loss], cfg.condition.aux_weight,
                        loss_pair(cfg.game.loss, cfg.game.g_loss, reg.label_smoothing),
                        Regularisers(reg.r1, reg.r2, reg.gp, reg.every, reg.instance_noise),
                        augmentation(cfg.data.augment))


def check_config(cfg: Config, distributed: bool) -> None:
    """Nothing beyond config.validate's rules: every piece of the GAN game runs in any process
    count, the gradient penalties' second derivative included (DDP averages the gradient of
    the whole D loss, penalties and all; tests/test_distributed.py)."""


class GanGame:
    """One G, one D, one dataset (labelled when ``condition.classes`` > 0)."""

    fusable = True  # the paper's MLPs may take gankit.core.fused's hand-written update

    def __init__(self, cfg: Config, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.output = generator_output(cfg.model)
        self.data = load_for_model(cfg.data, self.output)
        self.images = self.data.images.to(device)
        self.labels = self._labels(cfg) if cfg.condition.classes else None
        self.g_net: nn.Module = build_generator(cfg.model, self.data.shape,
                                                self.data.pixel_mean(), cfg.condition)
        self.d_net: nn.Module = build_stabilised_discriminator(
            cfg.model, self.data.shape, cfg.condition, cfg.game.pack)
        self.objective = gan_objective(cfg)
        fixed = torch.Generator().manual_seed(derived_seed(cfg.train.seed, 1))
        self.fixed_noise = sample_noise(GRID_SIZE, cfg.model.noise_dim, cfg.model.prior, "cpu",
                                        fixed).to(device)
        # Conditional runs: each row of the grid is one z, each column one class.
        self.fixed_labels = None
        if cfg.condition.classes:
            k = min(cfg.condition.classes, 10)
            self.fixed_noise = self.fixed_noise[:GRID_SIZE // k].repeat_interleave(k, 0)
            self.fixed_labels = torch.arange(k, device=device).repeat(GRID_SIZE // k)

    def _labels(self, cfg: Config) -> Tensor:
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

    def epoch_batches(self, batch_size: int, order: torch.Generator) -> list[Tensor]:
        return epoch_batches(len(self.data), batch_size, order)

    def batch(self, idx: Tensor) -> Batch:
        return Batch(self.images[idx], None if self.labels is None else self.labels[idx])

    def fixed_samples(self, g: nn.Module) -> Tensor:
        """G's output on the fixed grid input, in [0, 1] for images."""
        inputs = (self.fixed_noise,) if self.fixed_labels is None else (
            self.fixed_noise, self.fixed_labels)
        return to_unit(g(*inputs), self.output)

    def draw_samples(self, g: nn.Module, path: Path, title: str) -> None:
        # Eval mode: a batch-norm G uses its running statistics and does not update them, so
        # drawing the grid leaves training (and resume) exactly as without it.
        g.eval()
        try:
            with torch.no_grad():
                images = self.fixed_samples(g)
        finally:
            g.train()
        if images.ndim == 2:  # points of a low-dimensional distribution: plot, not a grid
            from gankit.figures.game import save_sample_plot  # matplotlib: only when plotting

            fixed = torch.Generator(self.device).manual_seed(derived_seed(self.cfg.train.seed, 1))
            with torch.no_grad():
                points = g(g.sample_noise(PLOT_POINTS, fixed))
            save_sample_plot(points, self.data.distribution, path, title)
            return
        save_grid(images, path, nrow=10, scale=max(1, 56 // images.shape[-1]))
