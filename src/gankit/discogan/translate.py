"""``gankit translate``: send images through a trained DiscoGAN and draw them side by side.

Each row of the figure holds triples: the input x, its translation G_XY(x) and the
reconstruction G_YX(G_XY(x)). Images come from files or folders, read at the run's image size
and channels; without any, the run's own built-in test domain is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gankit.data.folder import EXTENSIONS, decode, load_folder
from gankit.discogan.game import domains_for
from gankit.discogan.scoring import load_translators, translate
from gankit.errors import DataError, GankitError
from gankit.figures.grid import save_grid

DIRECTIONS = {"A": ("ab", "ba"), "B": ("ba", "ab")}


def read_images(paths: list[str | os.PathLike], size: int, channels: int) -> torch.Tensor:
    """Image files and folders (their images, sorted), each resized and centre-cropped like
    gankit.data.folder reads a training folder: (N, channels, size, size) in [0, 1]."""
    color, mode = ("grey", "L") if channels == 1 else ("rgb", "RGB")
    parts: list[torch.Tensor] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            parts.append(load_folder(path, size, color).images)
        elif path.is_file() and path.suffix.lower() in EXTENSIONS:
            try:
                pixels = decode(path, size, mode)
            except (OSError, ValueError, SyntaxError) as exc:
                raise DataError(f"cannot read image {path} ({exc})") from None
            parts.append(torch.from_numpy(pixels[None].astype("float32") / 255.0))
        else:
            raise DataError(f"{raw} is not an image file ({', '.join(sorted(EXTENSIONS))}) or "
                            "a folder of images")
    return torch.cat(parts)


def translate_to_figure(checkpoint: str | os.PathLike, source: str, out: str | os.PathLike,
                        images: list[str | os.PathLike] | None = None, n: int = 24,
                        per_row: int = 4, raw: bool = False) -> tuple[Path, int]:
    """Write the side-by-side figure; returns its path and the number of images translated.
    The maps are their moving averages where the run kept them (train.ema), unless ``raw``."""
    if source not in DIRECTIONS:
        raise GankitError(f"--from {source!r}: choose A or B (the domain the images come from)")
    g, cfg = load_translators(checkpoint, raw)
    if cfg.discogan.arch == "mlp":
        raise GankitError("this run maps 2-D points, not images; its maps are drawn by "
                          "benchmarks/discogan_toy.py")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GankitError(f"--out {out} must name a .png file")
    if out.exists():
        raise GankitError(f"--out {out} already exists; choose another name or delete it")
    forward, backward = DIRECTIONS[source]
    c, h, _ = tuple(g["ab"].image_shape)
    if images:
        x = read_images(list(images), h, c)[:n]
    else:
        test = domains_for(cfg, "test")
        x = (test.a if source == "A" else test.b).images[:n]
    y = translate(g[forward], x)
    back = translate(g[backward], y)
    triples = torch.stack([x, y, back], 1).reshape(-1, c, h, h)
    path = save_grid(triples, out, nrow=3 * per_row, scale=max(1, 84 // h))
    return path, len(x)

