"""The DiscoGAN game, played by gankit's trainer when ``game.name = "discogan"``.

Players: G = {G_AB, G_BA} and D = {D_A, D_B}, each pair one player with one optimiser (the
paper optimises the two generators jointly, and the two discriminators jointly). Per pair of
minibatches x_A, x_B (unpaired):

    x_AB = G_AB(x_A), x_ABA = G_BA(x_AB),   x_BA = G_BA(x_B), x_BAB = G_AB(x_BA)
    L_G = w_gan (L_GAN(D_B(x_AB)) + L_GAN(D_A(x_BA))) + w_rec (d(x_ABA, x_A) + d(x_BAB, x_B))
    L_D = BCE(D_A(x_A), 1) + BCE(D_A(x_BA), 0) + BCE(D_B(x_B), 1) + BCE(D_B(x_AB), 0)

with the paper's weights w_gan = w_rec = 1 and d the mean squared error (``discogan.recon``:
l2; l1 is the option), L_GAN the generator loss of ``game.g_loss`` (non-saturating: the
paper's). ``discogan.directions = "ab"`` keeps only the A -> B half: with w_rec = 0 it is the
plain one-direction GAN the paper compares against (no reconstruction), with w_rec > 0 its
"GAN with reconstruction loss". The update schedule is the trainer's (``game.schedule``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import Config
from gankit.core.game import Batch
from gankit.core.losses import GENERATOR_LOSSES, discriminator_loss
from gankit.core.objective import DTerms
from gankit.core.players import GLoss, Player
from gankit.data.images import epoch_batches
from gankit.data.paired_domains import TwoDomains, load_domains
from gankit.errors import ConfigError
from gankit.figures.grid import save_grid
from gankit.nets.discogan import build_pairs
from gankit.stabilisers import stabilisers_on

Tensor = torch.Tensor
GRID_ROWS = 10  # images per row of the sample grid

RECON = {"l2": F.mse_loss, "l1": F.l1_loss}


def _pair_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """BCE(D(x), 1) + BCE(D(fake), 0): one discriminator's term of L_D (no 2014 factor 1/2)."""
    return 2 * discriminator_loss(real_logits, fake_logits)


class DiscoLosses:
    """The forward pass and both players' losses for one pair of minibatches."""

    def __init__(self, gan_weight: float, recon_weight: float, recon: str,
                 both_directions: bool) -> None:
        self.gan_weight, self.recon_weight = gan_weight, recon_weight
        self.distance = RECON[recon]
        self.both = both_directions

    def translate(self, g: nn.ModuleDict, x_a: Tensor, x_b: Tensor) -> dict[str, Tensor]:
        out = {"ab": g["ab"](x_a)}
        if self.recon_weight > 0:
            out["aba"] = g["ba"](out["ab"])
        if self.both:
            out["ba"] = g["ba"](x_b)
            if self.recon_weight > 0:
                out["bab"] = g["ab"](out["ba"])
        return out

    def d_loss(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor]
               ) -> tuple[Tensor, Tensor, Tensor]:
        """L_D, and the logits of the reals and the fakes (for D(x) and D(G(x)) in the log)."""
        real, fake = [d["b"](x_b)], [d["b"](fakes["ab"])]
        if self.both:
            real.append(d["a"](x_a))
            fake.append(d["a"](fakes["ba"]))
        loss = sum(_pair_bce(r, f) for r, f in zip(real, fake, strict=True))
        return loss, torch.cat(real), torch.cat(fake)

    def g_loss(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor],
               adversarial: GLoss, fake_logits: list[Tensor] | None = None) -> Tensor:
        logits = fake_logits or self.fake_logits(d, fakes)
        loss = self.gan_weight * sum(adversarial(lg) for lg in logits)
        if self.recon_weight > 0:
            rec = self.distance(fakes["aba"], x_a)
            if self.both:
                rec = rec + self.distance(fakes["bab"], x_b)
            loss = loss + self.recon_weight * rec
        return loss

    def fake_logits(self, d: nn.ModuleDict, fakes: dict[str, Tensor]) -> list[Tensor]:
        return [d["b"](fakes["ab"])] + ([d["a"](fakes["ba"])] if self.both else [])


class DiscoObjective:
    """DiscoGAN's objective for the update schedules: batches are pairs (x_A, x_B)."""

    def __init__(self, losses: DiscoLosses, adversarial: GLoss) -> None:
        self.losses, self.adversarial = losses, adversarial

    def generate(self, g: Player, batch: Batch, wrapped: bool = True) -> dict[str, Tensor]:
        return self.losses.translate(g.net, *batch.real)

    def d_loss(self, d: Player, batch: Batch, fakes: dict[str, Tensor]) -> DTerms:
        loss, real_logits, fake_logits = self.losses.d_loss(d.net, *batch.real, fakes)
        return DTerms(loss, real_logits, fake_logits, fake_logits)

    def g_loss(self, d: Player, batch: Batch, fakes: dict[str, Tensor],
               terms: DTerms | None) -> Tensor:
        x_a, x_b = batch.real
        reused = None if terms is None else list(terms.reuse.split(x_a.shape[0]))
        return self.losses.g_loss(d.net, x_a, x_b, fakes, self.adversarial, reused)

    def backward(self, player: Player, loss: Tensor, retain_graph: bool = False) -> None:
        """d loss / d params into .grad; zeros for the networks this variant leaves out (D_A
        and G_BA in "ab"), so that every parameter takes the optimiser step as it always did."""
        player.backward(loss, retain_graph=retain_graph)
        for p in player.params():
            if p.grad is None:
                p.grad = torch.zeros_like(p)


def build_losses(cfg: Config) -> DiscoLosses:
    c = cfg.discogan
    return DiscoLosses(c.gan_weight, c.recon_weight, c.recon, c.directions == "both")


def domains_for(cfg: Config, split: str) -> TwoDomains:
    c = cfg.discogan
    return load_domains(cfg.data.name, split, cfg.data.data_dir or None, folder_a=c.folder_a,
                        folder_b=c.folder_b, image_size=cfg.data.image_size,
                        color="grey" if cfg.data.color == "grey" else "rgb")


def point_density(points: Tensor, bins: int = 56, extent: float = 1.6) -> Tensor:
    """2-D points as a (1, bins, bins) image of their histogram (for the toy's sample grid)."""
    xy = ((points.reshape(-1, 2) + extent) / (2 * extent) * bins).long().clamp(0, bins - 1)
    flat = (bins - 1 - xy[:, 1]) * bins + xy[:, 0]  # y up
    hist = torch.bincount(flat, minlength=bins * bins).float().view(1, bins, bins)
    return hist / hist.max().clamp_min(1)


def check_config(cfg: Config, distributed: bool) -> None:
    """What DiscoGAN does not support: its generators map images, they take no noise."""
    if cfg.condition.classes:
        raise ConfigError("DiscoGAN is not conditional; drop condition.classes")
    if stabilisers_on(cfg):
        raise ConfigError(f"{', '.join(stabilisers_on(cfg))} is not supported by DiscoGAN yet "
                          "(its objective is its own); turn it off")
    noise_only = [name for name, on in (("eval.every", cfg.eval.every),
                                        ("monitor.collapse_every", cfg.monitor.collapse_every > 0),
                                        ("report.tensorboard", cfg.report.tensorboard),
                                        ("speed.step", cfg.speed.step == "fused"),
                                        ("speed.compile", cfg.speed.compile),
                                        ("speed.autocast", cfg.speed.autocast != "none")) if on]
    if noise_only:
        raise ConfigError(f"{', '.join(noise_only)} is not supported by DiscoGAN (its "
                          "generators map images, they take no noise, and its step is its "
                          "own); turn it off (score maps with benchmarks/discogan_mnist.py)")
    if distributed:
        raise ConfigError("DiscoGAN trains in one process for now; drop --nproc")


class DiscoGame:
    """Two domains, the player pairs, DiscoGAN's objective and its grid of translations."""

    fusable = False

    def __init__(self, cfg: Config, device: torch.device) -> None:
        self.data = domains_for(cfg, "train")
        self.device = device
        self.a = self.data.a.images.to(device)
        self.b = self.data.b.images.to(device)
        self.g_net, self.d_net = build_pairs(cfg.discogan, self.data.shape)
        self.losses = build_losses(cfg)
        self.objective = DiscoObjective(self.losses, GENERATOR_LOSSES[cfg.game.g_loss])
        self.points = cfg.discogan.arch == "mlp"
        n = 1000 if self.points else GRID_ROWS
        self.fixed_input = torch.cat([self.data.a.images[:n],
                                      self.data.b.images[:n]]).to(device)

    def epoch_batches(self, batch_size: int, order: torch.Generator) -> list[Tensor]:
        """Each item is a (2, batch) tensor: indices into A and, independently shuffled, B."""
        a = epoch_batches(len(self.data.a), batch_size, order)
        b = epoch_batches(len(self.data.b), batch_size, order)
        return [torch.stack(pair) for pair in zip(a, b, strict=False)]

    def batch(self, idx: Tensor) -> Batch:
        idx = idx.to(self.device)
        return Batch((self.a[idx[0]], self.b[idx[1]]))

    def draw_samples(self, g: nn.Module, path: Path, title: str) -> None:
        with torch.no_grad():
            images = self.grid(g, self.fixed_input)
        save_grid(images, path, nrow=10, scale=max(1, 56 // images.shape[-1]))

    def grid(self, g: nn.ModuleDict, fixed: Tensor) -> Tensor:
        """Rows: A, G_AB(A), G_BA(G_AB(A)), B, G_BA(B), G_AB(G_BA(B)) (toy: B and G_AB(A))."""
        x_a, x_b = fixed.chunk(2)
        was_training = g.training
        g.eval()
        try:
            if self.points:
                return torch.stack([point_density(x_b), point_density(g["ab"](x_a))])
            ab, ba = g["ab"](x_a), g["ba"](x_b)
            return torch.cat([x_a, ab, g["ba"](ab), x_b, ba, g["ab"](ba)])
        finally:
            g.train(was_training)
