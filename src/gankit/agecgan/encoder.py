"""Step 2 of Age-cGAN (Antipov et al. 2017): an encoder E: x -> z trained on G's own samples.

E never sees real images: it learns to invert G on pairs (z, G(z, y)) with y drawn uniformly,
by least squares on z, as the paper does. It sees G's images in [0, 1] (``render``), the range
real images come in. Real images then get E(x) as a first guess of their
latent code, which the identity-preserving optimisation (gankit.agecgan.latent) refines.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gankit.agecgan.latent import render
from gankit.errors import CheckpointError, GankitError
from gankit.io import checkpoint as ckpt
from gankit.nets.conditional import is_conditional

ENCODER_DIR = "encoder"


class Encoder(nn.Module):
    """Pixels -> ReLU MLP -> z; squashed into the uniform prior's support [-sqrt 3, sqrt 3]."""

    def __init__(self, image_shape: tuple[int, int, int], noise_dim: int,
                 hidden: list[int] | tuple[int, ...] = (512, 256), prior: str = "uniform") -> None:
        super().__init__()
        self.image_shape, self.noise_dim, self.prior = tuple(image_shape), noise_dim, prior
        self.hidden_sizes = list(hidden)
        sizes = [math.prod(image_shape), *hidden]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], noise_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x.reshape(x.shape[0], -1))
        return math.sqrt(3) * torch.tanh(z) if self.prior == "uniform" else z


@dataclass
class EncoderReport:
    path: Path
    steps: int
    train_loss: float  # mean squared z error over the last 100 steps
    heldout_loss: float  # on 1,000 fresh generated pairs
    seconds: float


def _check_generator(g: nn.Module) -> None:
    if not is_conditional(g):
        raise GankitError("the encoder of Age-cGAN inverts a conditional generator; this run's "
                          "generator takes no class (train with --preset cgan-mnist)")


def _pairs(g: nn.Module, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    z = g.sample_noise(n, gen)
    y = torch.randint(g.classes, (n,), generator=gen)
    with torch.no_grad():
        return z, render(g, z, y)


def train_encoder(g: nn.Module, out: str | os.PathLike, *, steps: int = 3000,
                  batch_size: int = 128, lr: float = 1e-3,
                  hidden: list[int] | tuple[int, ...] = (512, 256), seed: int = 0,
                  progress: bool = True) -> EncoderReport:
    """Fit E to invert ``g`` on generated pairs and save it under ``out``/checkpoints.

    A new checkpoint never replaces an existing one of the same seed and steps.
    """
    _check_generator(g)
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise GankitError(f"encoder training needs steps >= 1, batch_size >= 1 and lr > 0; got "
                          f"{steps}, {batch_size}, {lr}")
    root = Path(out) / "checkpoints"
    name = f"seed-{seed}-steps-{steps}"
    if (root / name).exists():
        raise GankitError(f"encoder {root / name} already exists; delete it or pick another "
                          "--seed or --steps")
    g = g.cpu().eval()
    torch.manual_seed(seed)
    enc = Encoder(g.image_shape, g.noise_dim, hidden, g.prior)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    recent: list[float] = []
    start = time.perf_counter()
    for step in tqdm(range(steps), desc="encoder", disable=None if progress else True,
                     leave=False):
        z, x = _pairs(g, batch_size, gen)
        loss = F.mse_loss(enc(x), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= steps - 100:
            recent.append(loss.item())
    heldout = encoder_error(enc, g, 1000, torch.Generator().manual_seed(seed + 1))
    seconds = time.perf_counter() - start
    tensors = {f"E/{k}": v for k, v in enc.state_dict().items()}
    state = {"image_shape": list(enc.image_shape), "noise_dim": enc.noise_dim,
             "hidden": enc.hidden_sizes, "prior": enc.prior, "steps": steps,
             "batch_size": batch_size, "lr": lr, "seed": seed,
             "train_loss": sum(recent) / len(recent), "heldout_loss": heldout}
    path = ckpt.save_checkpoint(root, name, tensors, state)
    return EncoderReport(path, steps, state["train_loss"], heldout, seconds)


@torch.no_grad()
def encoder_error(enc: Encoder, g: nn.Module, n: int, gen: torch.Generator) -> float:
    """Mean squared error ||E(G(z, y)) - z||^2 / dim on ``n`` fresh pairs."""
    z, x = _pairs(g, n, gen)
    return float(F.mse_loss(enc(x), z))


def load_encoder(path: str | os.PathLike) -> Encoder:
    """An encoder folder (its newest intact checkpoint) or one encoder checkpoint."""
    resolved, _ = ckpt.resolve(path)
    tensors, state = ckpt.read_checkpoint(resolved)
    try:
        enc = Encoder(tuple(state["image_shape"]), state["noise_dim"], state["hidden"],
                      state["prior"])
        enc.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("E/")})
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{resolved} is not an encoder checkpoint "
                              f"({str(exc).splitlines()[0]}); train one with "
                              "`gankit train-encoder RUN`") from None
    return enc.eval()


def encoder_dir_of(run_or_checkpoint: str | os.PathLike) -> Path:
    """Where a run's encoder lives: RUN/encoder (also for a checkpoint inside RUN)."""
    path = Path(run_or_checkpoint)
    if (path / ckpt.MANIFEST).exists():  # RUN/checkpoints/<name>
        path = path.parent.parent
    return path / ENCODER_DIR
