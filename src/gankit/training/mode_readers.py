"""What the collapse monitor reads G's samples with, chosen from the data's config.

A *reader* knows the data's modes and counts how G's samples fall on them: the centres of a
toy Gaussian mixture (gankit.data.toy), MNIST's ten classes as the shipped classifier sees them
(gankit.metrics.classifier), or Stacked MNIST's 1,000 digit triples (each channel read by the
same classifier). Data without a reader (the 8x8 digits, CIFAR-10, faces, folders, MNIST
resized or normalised) has none: the classifier reads 28x28 MNIST in [0, 1] only.

Each reader turns samples into one metrics line and says when that line looks like collapse;
the thresholds are the module constants, documented in docs/game.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from gankit.config import DataConfig
from gankit.data.ranges import to_unit
from gankit.data.toy import DISTRIBUTIONS, GaussianMixture
from gankit.metrics.mode_coverage import mode_coverage
from gankit.metrics.score import kl_to_uniform

# A class (or digit triple) holding more than this share of the samples is a collapse.
TOP_SHARE_WARN = 0.5
# KL(class histogram || uniform) above this (nats) is one too: 0.51 is what six of ten
# equally used classes give (log 10/6), 2.30 is one class (log 10).
KL_WARN = 0.5
# Stacked MNIST: fewer triples covered than this share of what a uniform G's samples would.
COVERAGE_WARN = 0.5


class ModeReader(Protocol):
    modes_total: int

    def read(self, samples: torch.Tensor, output: str) -> dict[str, Any]:
        """One metrics line of G's samples (in the range of G's ``output`` unit)."""

    def collapse(self, m: dict[str, Any]) -> tuple[Any, str] | None:
        """(what collapsed, a message) when ``m`` shows collapse, else None; the monitor warns
        again only when what collapsed changes."""


@dataclass
class MixtureReader:
    """The nearest centre of a Gaussian mixture (gankit.metrics.mode_coverage)."""

    dist: GaussianMixture

    @property
    def modes_total(self) -> int:
        return len(self.dist.modes)

    def read(self, samples: torch.Tensor, output: str) -> dict[str, Any]:
        return mode_coverage(samples, self.dist.modes, self.dist.std).as_dict()

    def collapse(self, m: dict[str, Any]) -> tuple[Any, str] | None:
        if m["modes_covered"] >= m["modes_total"]:
            return None
        return m["modes_covered"], (f"{m['modes_covered']} of {m['modes_total']} modes covered "
                                    f"({m['high_quality']:.0%} of samples near a mode)")


@dataclass
class DigitReader:
    """MNIST's classes by the shipped classifier; ``channels`` 3 reads Stacked MNIST's triples
    (100 R + 10 G + B, as gankit.metrics.stacked_modes counts them)."""

    channels: int = 1
    batch_size: int = 500
    _net: Any = field(default=None, repr=False)

    @property
    def modes_total(self) -> int:
        return 10 ** self.channels

    def _digits(self, x01: torch.Tensor) -> torch.Tensor:
        if self._net is None:
            from gankit.metrics.classifier import load_classifier

            with torch.random.fork_rng(devices=[]):  # its layers' initial draws: not ours
                self._net = load_classifier()
        x = x01.reshape(-1, 1, 28, 28)  # sample i's channels are rows 3i, 3i+1, 3i+2
        with torch.no_grad():
            logits = torch.cat([self._net(x[i:i + self.batch_size])
                                for i in range(0, len(x), self.batch_size)])
        return logits.argmax(1).view(len(x01), self.channels)

    def read(self, samples: torch.Tensor, output: str) -> dict[str, Any]:
        digits = self._digits(to_unit(samples.detach().float().cpu(), output))
        powers = 10 ** torch.arange(self.channels - 1, -1, -1)
        modes = (digits * powers).sum(1)
        k, n = self.modes_total, len(modes)
        counts = torch.bincount(modes, minlength=k).tolist()
        top = max(range(k), key=counts.__getitem__)
        m: dict[str, Any] = {
            "modes_covered": sum(c >= n / (4 * k) for c in counts), "modes_total": k,
            "kl_to_uniform": kl_to_uniform(counts), "top_share": counts[top] / n}
        if self.channels == 1:
            m |= {"top_class": top, "class_shares": [round(c / n, 4) for c in counts]}
        else:  # a uniform G's n samples hit k (1 - (1 - 1/k)^n) triples on average
            m["modes_expected"] = k * (1 - (1 - 1 / k) ** n)
        return m

    def collapse(self, m: dict[str, Any]) -> tuple[Any, str] | None:
        what = "class" if self.channels == 1 else "digit triple"
        if m["top_share"] > TOP_SHARE_WARN:
            top = f" {m['top_class']}" if "top_class" in m else ""
            return ("top", m.get("top_class")), (
                f"one {what}{top} holds {m['top_share']:.0%} of samples (KL to uniform "
                f"{m['kl_to_uniform']:.2f})")
        if self.channels == 1 and m["kl_to_uniform"] > KL_WARN:
            return "kl", (f"class histogram far from uniform (KL {m['kl_to_uniform']:.2f} > "
                          f"{KL_WARN}; {m['modes_covered']} of 10 classes covered)")
        if "modes_expected" in m and m["modes_covered"] < COVERAGE_WARN * m["modes_expected"]:
            return "covered", (f"{m['modes_covered']} of {m['modes_total']} digit triples "
                               f"covered (a uniform G: {m['modes_expected']:.0f})")
        return None


def _reads_mnist(data: DataConfig, color: str) -> bool:
    """The classifier's input: 28x28 pixels in [0, 1] (before G's range), not normalised."""
    return data.image_size in (0, 28) and data.color in ("auto", color) and not data.gcn


def reader_for(data: DataConfig) -> ModeReader | None:
    """The reader of this data, or None where no mode is known."""
    if data.name == "mnist" and _reads_mnist(data, "grey"):
        return DigitReader(1)
    if data.name == "stacked_mnist" and _reads_mnist(data, "rgb"):
        return DigitReader(3)
    dist = DISTRIBUTIONS[data.name]() if data.name in DISTRIBUTIONS else None
    return MixtureReader(dist) if isinstance(dist, GaussianMixture) else None
