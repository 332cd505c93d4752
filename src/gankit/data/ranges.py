"""Value ranges: loaders give pixels in [0, 1]; this module puts them where G's output lives.

The dataset layer converts, the model does not: a sigmoid G is trained on [0, 1] data, a tanh
G on [-1, 1], and the paper's linear-output CIFAR-10 Gs on globally contrast-normalised data.
``to_unit`` maps a model's samples back to [0, 1] for pictures.
"""

from __future__ import annotations

import torch

from gankit.errors import ConfigError

OUTPUT_RANGES: dict[str, tuple[float, float] | None] = {
    "sigmoid": (0.0, 1.0), "relu": (0.0, 1.0), "tanh": (-1.0, 1.0), "linear": None}


def global_contrast_normalize(x: torch.Tensor, scale: float = 55.0,
                              min_divisor: float = 1e-8) -> torch.Tensor:
    """Per image: subtract its mean, then scale to L2 norm ``scale`` (pylearn2's gcn, the
    authors' CIFAR-10 preprocessing: use_std False, sqrt_bias 0). Flat images keep norm 0."""
    flat = x.reshape(x.shape[0], -1).double()
    flat = flat - flat.mean(1, keepdim=True)
    norms = flat.norm(dim=1, keepdim=True)
    norms = torch.where(norms < min_divisor, torch.ones_like(norms), norms)
    return (scale * flat / norms).to(x.dtype).reshape(x.shape)


def to_model_range(x01: torch.Tensor, output: str, gcn: bool = False,
                   gcn_scale: float = 55.0) -> torch.Tensor:
    """Images in [0, 1] -> the range a G with this ``output`` unit produces."""
    if gcn:
        if output != "linear":
            raise ConfigError(f"data.gcn needs a generator with a linear output (values are "
                              f"unbounded), not {output!r}; set model.g_output = 'linear'")
        return global_contrast_normalize(x01, gcn_scale)
    if output == "tanh":
        return x01 * 2 - 1
    return x01


def to_unit(images: torch.Tensor, output: str) -> torch.Tensor:
    """A model's samples -> [0, 1] for display: fixed ranges map linearly, unbounded outputs
    (linear, e.g. GCN data) are stretched per image from their own min to max."""
    bounds = OUTPUT_RANGES.get(output, (0.0, 1.0))
    if bounds is not None:
        lo, hi = bounds
        return ((images - lo) / (hi - lo)).clamp(0, 1)
    flat = images.reshape(images.shape[0], -1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).reshape(images.shape)
