"""How good is a learned map? Scores for G_AB (and G_BA) of a DiscoGAN run.

- Against a known relation T (the built-in MNIST pairs): pixel error |G_AB(x) - T(x)| on test
  digits (beside the error of the best constant map: a collapsed G_AB gets the background
  right and scores deceptively well on pixels alone), and the accuracy of the MNIST
  classifier on T^-1(G_AB(x)): the digit must survive the mapping (a map that draws a
  different, plausible digit scores low even though D_B cannot tell).
- On the 2-D toy: the mode-to-mode assignment, read off by sending points of each A mode
  through G_AB and naming the nearest B mode of each image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from gankit.config import Config
from gankit.data.paired_domains import TOY_MODES_A, TOY_MODES_B, TOY_SIGMA, TwoDomains
from gankit.errors import CheckpointError
from gankit.io import checkpoint as ckpt
from gankit.metrics.classifier import accuracy
from gankit.nets.discogan import build_pairs

Tensor = torch.Tensor


def load_translators(path: str | os.PathLike, raw: bool = False
                     ) -> tuple[nn.ModuleDict, Config]:
    """G = {ab, ba} of a DiscoGAN run directory or checkpoint folder, in eval mode, on the CPU:
    their moving average when the run kept one (train.ema), unless ``raw``."""
    resolved, tensors, state, cfg = ckpt.load_players(
        path, "discogan", "translate needs a run trained with game.name = 'discogan'")
    g, _ = build_pairs(cfg.discogan, tuple(state["image_shape"]))
    ckpt.load_prefixed(g, tensors, ckpt.generator_prefix(tensors, raw), resolved)
    return g.eval(), cfg


@torch.no_grad()
def translate(g: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """``g`` applied in eval mode (batch-norm running statistics), batch by batch."""
    was_training = g.training
    g.eval()
    try:
        return torch.cat([g(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        g.train(was_training)


@dataclass
class RelationScore:
    """G_AB against the true relation T on the test digits (pixel errors per pixel, in [0, 1])."""

    n: int
    mae: float  # mean |G_AB(x) - T(x)|
    mse: float
    identity_mae: float  # mean |x - T(x)|: the error of doing nothing, for scale
    constant_mae: float  # mean |m - T(x)|, m the pixel-wise median of T(x): the best constant map
    back_mae: float  # mean |G_BA(T(x)) - x|: the other direction
    accuracy: float | None = None  # classifier on T^-1(G_AB(x)); None without a classifier
    truth_accuracy: float | None = None  # the same classifier on the test digits themselves
    # classifier on T(G_AB(x)): high when G_AB learned T^-1 instead (rotation the other way;
    # for inversion, T^-1 = T and this equals ``accuracy``)
    reverse_accuracy: float | None = None


def score_relation(g: nn.ModuleDict, test: TwoDomains, classifier: nn.Module | None = None,
                   n: int | None = None) -> RelationScore:
    if test.relation is None:
        raise CheckpointError("these domains have no known relation to score against; only "
                              "the built-in mnist-rot90 and mnist-invert pairs have one")
    x, truth = test.a.images[:n], test.b.images[:n]
    ab = translate(g["ab"], x)
    ba = translate(g["ba"], truth)
    score = RelationScore(len(x), float((ab - truth).abs().mean()),
                          float(((ab - truth) ** 2).mean()), float((x - truth).abs().mean()),
                          float((truth.median(0).values - truth).abs().mean()),
                          float((ba - x).abs().mean()))
    if classifier is not None and test.a.labels is not None:
        labels = test.a.labels[:n]
        score.accuracy = accuracy(classifier, test.relation.inverse(ab), labels)
        score.truth_accuracy = accuracy(classifier, x, labels)
        score.reverse_accuracy = accuracy(classifier, test.relation.forward(ab), labels)
    return score


def mnist_classifier() -> nn.Module:
    """The project's shipped MNIST classifier (gankit.metrics.classifier), in eval mode."""
    from gankit.metrics.classifier import load_classifier

    return load_classifier()


# ---------------------------------------------------------------- the 2-D toy
@dataclass
class ModeMap:
    """counts[i, j]: points of A mode i sent to B mode j (column 8: near no B mode)."""

    counts: Tensor
    targets: list[int]  # the B mode most points of each A mode land on

    @property
    def distinct_targets(self) -> int:
        """8 when the map is one to one on modes; fewer when several A modes collapse."""
        return len(set(self.targets))

    @property
    def on_mode(self) -> float:
        """Fraction of translated points within 4 sigma of some B mode (sample quality)."""
        return float(self.counts[:, :-1].sum() / self.counts.sum())

    @property
    def purity(self) -> float:
        """Fraction of points that go where the rest of their A mode goes (a map, not a spray)."""
        return float(self.counts[:, :-1].max(1).values.sum() / self.counts.sum())


def mode_map(g_ab: nn.Module, per_mode: int = 200, seed: int = 0) -> tuple[ModeMap, Tensor,
                                                                             Tensor, Tensor]:
    """The assignment of A's modes to B's modes; also the points, their A modes and images."""
    gen = torch.Generator().manual_seed(seed)
    k = len(TOY_MODES_A)
    labels = torch.arange(k).repeat_interleave(per_mode)
    points = TOY_MODES_A[labels] + TOY_SIGMA * torch.randn(len(labels), 2, generator=gen)
    mapped = translate(g_ab, points[:, :, None, None]).reshape(-1, 2)
    dist = torch.cdist(mapped, TOY_MODES_B)
    near, which = dist.min(1)
    which = torch.where(near <= 4 * TOY_SIGMA, which, torch.full_like(which, len(TOY_MODES_B)))
    counts = torch.zeros(k, len(TOY_MODES_B) + 1, dtype=torch.long)
    counts.index_put_((labels, which), torch.ones_like(labels), accumulate=True)
    targets = [int(counts[i, :-1].argmax()) for i in range(k)]
    return ModeMap(counts, targets), points, labels, mapped


