"""The DiscoGAN game, played by gankit's trainer when ``game.name = "discogan"``.

Players: G = {G_AB, G_BA} and D = {D_A, D_B}, each pair one player with one optimiser (the
paper optimises the two generators jointly, and the two discriminators jointly). Per pair of
minibatches x_A, x_B (unpaired):

    x_AB = G_AB(x_A), x_ABA = G_BA(x_AB),   x_BA = G_BA(x_B), x_BAB = G_AB(x_BA)
    L_G = w_gan (L_G^pair(D_B; x_B, x_AB) + L_G^pair(D_A; x_A, x_BA))
          + w_rec (d(x_ABA, x_A) + d(x_BAB, x_B))
    L_D = 2 L_D^pair(D_A; x_A, x_BA) + 2 L_D^pair(D_B; x_B, x_AB)

with the paper's weights w_gan = w_rec = 1 and d the mean squared error (``discogan.recon``:
l2; l1 is the option). ``discogan.directions = "ab"`` keeps only the A -> B half: with w_rec =
0 it is the plain one-direction GAN the paper compares against (no reconstruction), with w_rec
> 0 its "GAN with reconstruction loss". The update schedule is the trainer's (``game.schedule``).

The pair of losses is ``game.loss``'s (``gankit.core.losses.loss_pair``), the GAN game's own
functions. The default "gan" is the paper's: L_D^pair = (BCE(D(x), 1) + BCE(D(x~), 0)) / 2,
so each discriminator's term 2 L_D^pair is the paper's BCE sum without the 2014 code's factor
1/2, and L_G^pair is ``game.g_loss``'s loss of D(x~) (non-saturating: the paper's). The factor
2 is one rule for every pair and for D's penalties alike: each discriminator's term is twice
what the GAN game's objective gives its D on the same inputs, penalties included. So a loss
keeps the balance with ``reg.r1`` / ``reg.r2`` it has in the GAN game (the same gamma pulls as
hard relative to D's loss in both games), and "gan" keeps the paper's numbers. Each direction's
G term is the pair's G loss as in the GAN game; rpgan's reads the scores its discriminator gave
the reals of its own domain, as constants, real i paired with the translation of position i.

D's regularisers (``[reg]``, ``gankit.core.penalties``) act on each discriminator at its own
inputs: R1 at its reals (D_A at x_A, D_B at x_B), R2 at the translations into its domain (D_A
at x_BA, D_B at x_AB), WGAN-GP's ``reg.gp`` on interpolates between the two (real i with the
translation of position i; D_B's draws first, then D_A's), on every ``reg.every``-th D
update only (counted by the D pair's learning-rate schedule, so both critics share the beat)
and then times ``reg.every``;
``reg.instance_noise`` on every input of D_A and D_B, in D's loss and in G's; and
``reg.label_smoothing`` on the real target of the "gan" pair. ``discogan.d_spectral_norm`` puts
spectral norm on both critics (``gankit.nets.discogan.build_pairs``). ``check_config`` refuses,
one key per line, what is not built for two domains: game.pack, model.d_minibatch_std,
model.d_spectral_norm (the discogan section's key is) and data.augment.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import Config
from gankit.core.game import Batch
from gankit.core.losses import LossPair, loss_pair
from gankit.core.objective import DTerms
from gankit.core.penalties import Regularisers, instance_noise
from gankit.core.players import Player
from gankit.data.images import epoch_batches
from gankit.data.paired_domains import TwoDomains, load_domains
from gankit.errors import ConfigError
from gankit.figures.grid import save_grid
from gankit.nets.discogan import build_pairs
from gankit.stabilisers import stabilisers_on

Tensor = torch.Tensor
GRID_ROWS = 10  # images per row of the sample grid

RECON = {"l2": F.mse_loss, "l1": F.l1_loss}
D_SCALE = 2  # each discriminator's term: twice the GAN game's D loss (the module's docstring)

# The stabilisers (as gankit.stabilisers names them) DiscoGAN plays; it refuses any other,
# saying why where REFUSED does (discogan.d_spectral_norm is its own section's key).
BUILT = ("game.loss", "reg.r1", "reg.r2", "reg.gp", "reg.label_smoothing", "reg.instance_noise")
REFUSED = {
    "game.pack": "D_A and D_B judge one translation at a time (PacGAN's tuples are built into "
                 "the GAN game's D only); turn it off",
    "model.d_minibatch_std": "its critics are built from the discogan section, without a "
                             "minibatch-std layer; turn it off",
    "model.d_spectral_norm": "its nets read their own section; set discogan.d_spectral_norm = "
                             "true instead",
    "data.augment": "its D judges translations, and DiffAugment is built into the GAN game's "
                    "objective only; drop it",
}


class DiscoLosses:
    """The forward pass and both players' losses for one pair of minibatches: ``pair`` the
    losses of ``game.loss`` (default: the paper's "gan"), ``reg`` D's regularisers."""

    def __init__(self, gan_weight: float, recon_weight: float, recon: str,
                 both_directions: bool, pair: LossPair | None = None,
                 reg: Regularisers | None = None) -> None:
        self.gan_weight, self.recon_weight = gan_weight, recon_weight
        self.distance = RECON[recon]
        self.both = both_directions
        self.pair = pair or loss_pair("gan")
        self.reg = reg or Regularisers()

    def translate(self, g: nn.ModuleDict, x_a: Tensor, x_b: Tensor) -> dict[str, Tensor]:
        out = {"ab": g["ab"](x_a)}
        if self.recon_weight > 0:
            out["aba"] = g["ba"](out["ab"])
        if self.both:
            out["ba"] = g["ba"](x_b)
            if self.recon_weight > 0:
                out["bab"] = g["ab"](out["ba"])
        return out

    def judged(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor]
               ) -> list[tuple[nn.Module, Tensor, Tensor]]:
        """(critic, its domain's reals, the translations into its domain): D_B, then D_A."""
        out = [(d["b"], x_b, fakes["ab"])]
        if self.both:
            out.append((d["a"], x_a, fakes["ba"]))
        return out

    def _seen(self, x: Tensor) -> Tensor:
        """An input as a critic sees it: with instance noise when on."""
        return instance_noise(x, self.reg.noise)

    def d_loss(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor],
               penalties: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """L_D, and the logits of the reals and the fakes (for D(x) and D(G(x)) in the log);
        ``penalties``: add each critic's R1 / R2 / GP (a due update, with one of them on)."""
        reg = self.reg
        loss: Tensor | int = 0
        real, fake = [], []
        for critic, x, x_fake in self.judged(d, x_a, x_b, fakes):
            x = reg.inputs(x, penalties and bool(reg.r1))
            x_fake = reg.inputs(x_fake, penalties and bool(reg.r2))
            r, f = critic(self._seen(x)), critic(self._seen(x_fake))
            term = self.pair.d(r, f)
            if penalties:
                term = term + reg.penalty((x, r), (x_fake, f), critic)
            loss = loss + D_SCALE * term
            real.append(r)
            fake.append(f)
        assert isinstance(loss, Tensor)
        return loss, torch.cat(real), torch.cat(fake)

    def g_loss(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor],
               logits: tuple[list[Tensor], list[Tensor | None]] | None = None) -> Tensor:
        """L_G; ``logits``: the critics' (fake, real) logits from D's forward pass, or None to
        run the critics afresh."""
        fake, real = logits or self.g_logits(d, x_a, x_b, fakes)
        loss = self.gan_weight * sum(self.pair.g(r, f) for r, f in zip(real, fake, strict=True))
        if self.recon_weight > 0:
            rec = self.distance(fakes["aba"], x_a)
            if self.both:
                rec = rec + self.distance(fakes["bab"], x_b)
            loss = loss + self.recon_weight * rec
        return loss

    def g_logits(self, d: nn.ModuleDict, x_a: Tensor, x_b: Tensor, fakes: dict[str, Tensor]
                 ) -> tuple[list[Tensor], list[Tensor | None]]:
        """Each critic's logits of the translations into its domain, and of its reals where
        the pair's G loss reads them (constants to G; else None)."""
        judged = self.judged(d, x_a, x_b, fakes)
        fake = [critic(self._seen(x_fake)) for critic, _, x_fake in judged]
        real: list[Tensor | None] = [None] * len(fake)
        if self.pair.g_needs_real:
            with torch.no_grad():
                real = [critic(self._seen(x)) for critic, x, _ in judged]
        return fake, real


class DiscoObjective:
    """DiscoGAN's objective for the update schedules: batches are pairs (x_A, x_B)."""

    def __init__(self, losses: DiscoLosses) -> None:
        self.losses = losses

    def generate(self, g: Player, batch: Batch, wrapped: bool = True) -> dict[str, Tensor]:
        return self.losses.translate(g.net, *batch.real)

    def d_loss(self, d: Player, batch: Batch, fakes: dict[str, Tensor]) -> DTerms:
        due = self.losses.reg.due(d)
        loss, real_logits, fake_logits = self.losses.d_loss(d.net, *batch.real, fakes, due)
        return DTerms(loss, real_logits, fake_logits, fake_logits)

    def g_loss(self, d: Player, batch: Batch, fakes: dict[str, Tensor],
               terms: DTerms | None) -> Tensor:
        x_a, x_b = batch.real
        logits = None
        if terms is not None:  # D's forward on these fakes; its scores of the reals: constants
            n = x_a.shape[0]
            logits = (list(terms.reuse.split(n)), list(terms.real_logits.detach().split(n)))
        return self.losses.g_loss(d.net, x_a, x_b, fakes, logits)

    def backward(self, player: Player, loss: Tensor, retain_graph: bool = False) -> None:
        """d loss / d params into .grad; zeros for the networks this variant leaves out (D_A
        and G_BA in "ab"), so that every parameter takes the optimiser step as it always did."""
        player.backward(loss, retain_graph=retain_graph)
        for p in player.params():
            if p.grad is None:
                p.grad = torch.zeros_like(p)


def build_losses(cfg: Config) -> DiscoLosses:
    """DiscoGAN's losses with ``game.loss``'s pair and ``[reg]``'s regularisers."""
    c, reg = cfg.discogan, cfg.reg
    return DiscoLosses(c.gan_weight, c.recon_weight, c.recon, c.directions == "both",
                       loss_pair(cfg.game.loss, cfg.game.g_loss, reg.label_smoothing),
                       Regularisers(reg.r1, reg.r2, reg.gp, reg.every, reg.instance_noise))


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
    """What DiscoGAN does not support: its generators map images, they take no noise, and of
    the stabilisers it plays those of ``BUILT`` only (the module's docstring)."""
    if cfg.condition.classes:
        raise ConfigError("DiscoGAN is not conditional; drop condition.classes")
    refused = [key for key in stabilisers_on(cfg) if key not in BUILT]
    if refused:
        why = REFUSED.get(refused[0], "it is not built for its two critics; turn it off")
        raise ConfigError(f"{refused[0]} is not supported by DiscoGAN: {why}")
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
        self.objective = DiscoObjective(self.losses)
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
