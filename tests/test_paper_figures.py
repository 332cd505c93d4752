"""Figures 2 and 3 and the memorisation check, on small generators with known outputs."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from gankit.paper import figures as pf


class LookupGenerator(nn.Module):
    """A generator that memorised: G(z) is the training image chosen by z's first coordinate."""

    noise_dim, prior = 4, "uniform"

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = nn.Parameter(images.clone(), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = (z[:, 0] / 3**0.5 + 1) / 2  # uniform prior on +-sqrt(3) -> [0, 1]
        idx = (u * (len(self.images) - 1)).round().long()
        return self.images[idx]


class LinearGenerator(nn.Module):
    noise_dim, prior = 3, "uniform"

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 16)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.lin(z)).view(-1, 1, 4, 4)


def test_nearest_neighbours_match_brute_force():
    g = torch.Generator().manual_seed(0)
    ref, q = torch.rand(500, 1, 6, 6, generator=g), torch.rand(37, 1, 6, 6, generator=g)
    d, i = pf.nearest_neighbours(q, ref, block=10)
    full = ((q.reshape(37, 1, -1).double() - ref.reshape(1, 500, -1).double()) ** 2).sum(-1)
    assert torch.equal(i, full.argmin(1))
    assert torch.allclose(d, full.min(1).values, rtol=0, atol=1e-12)


def test_memorising_generator_sits_left_of_test_images():
    g = torch.Generator().manual_seed(1)
    train, test = torch.rand(300, 1, 5, 5, generator=g), torch.rand(100, 1, 5, 5, generator=g)
    m = pf.memorisation(LookupGenerator(train), train, test, n=100)
    assert np.all(m.sample_dists == 0) and np.all(m.test_dists > 0.1)
    s = m.summary()
    assert s["sample_median"] == 0 and s["test_median"] > 0


def test_figure2_last_column_is_the_nearest_training_image(tmp_path):
    g = torch.Generator().manual_seed(2)
    train = torch.rand(200, 1, 5, 5, generator=g)
    gen = LookupGenerator(train)
    path = pf.figure2(gen, train, tmp_path / "f2.png", rows=3, cols=4, seed=5, scale=1)
    grid = np.asarray(Image.open(path).convert("L"))
    assert grid.shape == (3 * 6 + 1, 5 * 6 + 1)
    # A memorising generator's neighbour is the sample itself: columns 4 and 5 agree.
    for r in range(3):
        top = 1 + r * 6
        sample = grid[top:top + 5, 1 + 3 * 6:1 + 3 * 6 + 5]
        neighbour = grid[top:top + 5, 1 + 4 * 6 + 1:1 + 4 * 6 + 4]  # inside the frame
        assert np.array_equal(sample[:, 1:4], neighbour)


def test_figure3_rows_run_between_two_generated_points(tmp_path):
    torch.manual_seed(0)
    gen = LinearGenerator()
    path = pf.figure3(gen, tmp_path / "f3.png", rows=2, steps=5, seed=3, scale=1)
    grid = np.asarray(Image.open(path))
    ends = pf._noise(gen, 4, 3).view(2, 2, -1)
    with torch.no_grad():
        first, last = gen(ends[0, :1]), gen(ends[0, 1:])
    to_u8 = lambda x: (x.clamp(0, 1) * 255).round().to(torch.uint8)[0, 0].numpy()  # noqa: E731
    assert np.array_equal(grid[1:5, 1:5], to_u8(first))
    assert np.array_equal(grid[1:5, 1 + 4 * 5:1 + 4 * 5 + 4], to_u8(last))


def test_memorisation_figure_is_written(tmp_path):
    m = pf.Memorisation(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    path = pf.memorisation_figure(m, tmp_path / "m.png")
    assert Image.open(path).size[0] > 100
