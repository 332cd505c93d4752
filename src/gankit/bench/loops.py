"""The training loops that race: the paper's MLP and a DCGAN as a user writes them by hand in
plain PyTorch, and gankit's configured step on the same model."""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from gankit.config import Config
from gankit.core.game import Batch
from gankit.core.losses import GENERATOR_LOSSES
from gankit.core.objective import GanObjective
from gankit.core.optim import build_optimizer
from gankit.core.players import Player
from gankit.core.step import build_step
from gankit.nets import build_discriminator, build_generator


class _PlainMaxout(nn.Module):
    def __init__(self, fan_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.lin = nn.Linear(fan_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(-1, self.units, self.pieces).max(-1).values


class _Column(nn.Module):
    """(B,) logits as the (B, 1) column nn.BCELoss is given in the plain loop."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, 1)


class PlainLoop:
    """The paper's model as a user writes it: alternating D then G, nn.BCELoss on sigmoid
    outputs, torch.optim.SGD with momentum, the fake batch reused for G's step."""

    def __init__(self, images: torch.Tensor, batch: int = 100,
                 nets: tuple[nn.Module, nn.Module] | None = None) -> None:
        """``nets``: a trained (G, D logit) pair to continue from instead of fresh networks."""
        if nets is not None:
            self.g, self.d = nets[0], nn.Sequential(nets[1], _Column(), nn.Sigmoid())
        else:
            self.g = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200),
                                   nn.ReLU(), nn.Linear(1200, 784), nn.Sigmoid())
            self.d = nn.Sequential(nn.Dropout(0.2), _PlainMaxout(784, 240, 5), nn.Dropout(0.5),
                                   _PlainMaxout(240, 240, 5), nn.Dropout(0.5),
                                   nn.Linear(240, 1), nn.Sigmoid())
        self.opt_d = torch.optim.SGD(self.d.parameters(), lr=0.1, momentum=0.5)
        self.opt_g = torch.optim.SGD(self.g.parameters(), lr=0.1, momentum=0.5)
        self.flat, self.batch = images.reshape(len(images), -1), batch
        self.ones, self.zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        self(1)

    def __call__(self, steps: int) -> float:
        g, d, bce, batch = self.g, self.d, nn.BCELoss(), self.batch
        start = time.perf_counter()
        for _ in range(steps):
            x = self.flat[torch.randint(len(self.flat), (batch,))]
            z = torch.rand(batch, 100) * 2 * math.sqrt(3) - math.sqrt(3)
            fake = g(z).reshape(batch, -1)
            self.opt_d.zero_grad()
            loss_d = 0.5 * (bce(d(x), self.ones) + bce(d(fake.detach()), self.zeros))
            loss_d.backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            loss_g = bce(d(fake), self.ones)
            loss_g.backward()
            self.opt_g.step()
        _ = (loss_d.item(), loss_g.item())  # a log line's read-back
        return time.perf_counter() - start


def plain_loop(images: torch.Tensor, steps: int, batch: int = 100) -> float:
    """Samples/s of ``PlainLoop`` over ``steps`` steps."""
    return steps * batch / PlainLoop(images, batch)(steps)


class PlainConvLoop:
    """A DCGAN trained as the PyTorch DCGAN example does: D on a real and a detached fake batch,
    then G on the same fake batch through the updated D; Adam, BCE on logits. The networks
    are gankit's (plain nn.Modules), so both loops train the same model."""

    def __init__(self, cfg: Config, images: torch.Tensor, batch: int) -> None:
        shape = tuple(images.shape[1:])
        self.g, self.d = build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), cfg.optim.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), cfg.optim.lr, betas=betas)
        self.images, self.batch = images, batch
        self.ones, self.zeros = torch.ones(batch), torch.zeros(batch)
        self(1)

    def __call__(self, steps: int) -> float:
        bce, batch = nn.functional.binary_cross_entropy_with_logits, self.batch
        start = time.perf_counter()
        for _ in range(steps):
            x = self.images[torch.randint(len(self.images), (batch,))]
            fake = self.g(torch.randn(batch, self.g.noise_dim))
            self.opt_d.zero_grad()
            loss_d = 0.5 * (bce(self.d(x), self.ones) + bce(self.d(fake.detach()), self.zeros))
            loss_d.backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            loss_g = bce(self.d(fake), self.ones)
            loss_g.backward()
            self.opt_g.step()
        _ = (loss_d.item(), loss_g.item())
        return time.perf_counter() - start


def check_benchable(cfg: Config) -> None:
    """Refuse what the plain loops do not implement, rather than compare unlike models (the
    bench always trains on 28x28 MNIST-shaped images, see ``load_images``)."""
    from gankit.errors import ConfigError

    m = cfg.model
    paper_mlp = (m.arch == "mlp" and m.noise_dim == 100 and list(m.g_hidden) == [1200, 1200]
                 and list(m.d_units) == [240, 240] and m.d_pieces == 5)
    if cfg.condition.classes or cfg.game.name != "gan" or not (paper_mlp or m.arch == "dcgan"):
        raise ConfigError("gankit bench compares gankit with a plain loop of the paper-mnist "
                          "MLP or of a DCGAN (model.arch = 'dcgan'), unconditional, on MNIST; "
                          "use --preset paper-mnist or --preset dcgan-mnist")


def players(cfg: Config, shape: tuple[int, int, int]) -> tuple[Player, Player]:
    g = build_generator(cfg.model, shape)
    d = build_discriminator(cfg.model, shape)
    return (Player(g, *build_optimizer(cfg.optim, g.parameters())),
            Player(d, *build_optimizer(cfg.optim, d.parameters())))


class GankitLoop:
    """gankit's configured step, batches by index into the in-memory tensor as the trainer."""

    def __init__(self, cfg: Config, images: torch.Tensor, batch: int) -> None:
        self.g, self.d = players(cfg, tuple(images.shape[1:]))
        objective = GanObjective(GENERATOR_LOSSES[cfg.game.g_loss])
        self.step = build_step(cfg, objective, self.g, self.d)
        self.images, self.batch = images, batch
        self(1)  # first call: buffers (and compilation, if asked)

    def __call__(self, steps: int) -> float:
        order = torch.randint(len(self.images), (steps, self.batch))
        start = time.perf_counter()
        for idx in order:
            stats = self.step(self.g, self.d, [Batch(self.images[idx])])
        float(stats.d_loss)  # a log line's read-back
        return time.perf_counter() - start
