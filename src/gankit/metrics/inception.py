"""Inception-v3 pool features (2048) for FID, KID and precision/recall on RGB data.

The network is torch-fidelity's port of the TensorFlow FID Inception (an optional extra:
``pip install 'gankit[inception]'``), so figures compare with published ones. Its weights
cannot be bundled or downloaded here: the user gives a local file. gankit never unpickles, so
the file must be safetensors; torch-fidelity's ``pt_inception-2015-12-05`` .pth converts once
with ``save_file(torch.load(PTH, weights_only=True), "inception.safetensors")``.

Images in [0, 1] are quantised to uint8 at their own size, as if saved as PNG (grey repeated
to three channels), and torch-fidelity resizes them to 299x299 with its TF1-compatible
bilinear interpolation: the standard FID protocol. Every result records this.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file

from gankit.errors import GankitError
from gankit.metrics.network import FeatureNetwork

INPUT_SIZE = 299
FEATURE_DIM = 2048
Extractor = Callable[[torch.Tensor], torch.Tensor]  # uint8 (N, 3, H, W) -> (N, 2048)


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, 1 or 3, H, W) in [0, 1] -> uint8 (N, 3, H, W), rounded as a PNG writer rounds."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def describe_preprocess(shape: tuple[int, ...]) -> str:
    """The resizing and conversion, written next to every Inception figure."""
    grey = ", grey repeated to 3 channels" if shape[0] == 1 else ""
    return (f"uint8 at {shape[1]}x{shape[2]}{grey}, resized to {INPUT_SIZE}x{INPUT_SIZE} "
            "by torch-fidelity (TF1-compatible bilinear)")


def fidelity_extractor(path: str | None) -> Extractor:
    """torch-fidelity's FID Inception with the weights at ``path`` (a safetensors file)."""
    try:
        from torch_fidelity import feature_extractor_inceptionv3 as fx
    except ImportError as exc:  # torch-fidelity, or torchvision which it imports
        raise GankitError("Inception features need torch-fidelity (pip install "
                          f"'gankit[inception]'; import failed: {exc})") from None
    if not path:
        raise GankitError("Inception features need a local weights file (--features-path "
                          "inception.safetensors); none was given")
    if not Path(path).is_file():
        raise GankitError(f"Inception weights {path} not found")
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged or .pth file
        raise GankitError(f"Inception weights {path} are not a safetensors file "
                          f"({str(exc).splitlines()[0]}); convert the .pth as docs/"
                          "convolutional.md shows") from None
    # torch-fidelity reads a weights path with torch.load (unpickling); hand it the tensors
    # instead through the download hook it calls when no path is given.
    original = fx.load_state_dict_from_url
    fx.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        net = fx.FeatureExtractorInceptionV3("inception-v3-compat", [str(FEATURE_DIM)])
    except RuntimeError as exc:  # load_state_dict: missing or mis-shaped tensors
        raise GankitError(f"Inception weights {path} do not fit torch-fidelity's Inception "
                          f"({str(exc).splitlines()[0]})") from None
    finally:
        fx.load_state_dict_from_url = original
    return lambda x: net(x)[0]


def inception_network(path: str | None = None) -> FeatureNetwork:
    """The ``inception`` entry of the feature-network registry."""
    from gankit.metrics.classifier import file_digest

    extractor = fidelity_extractor(path)
    assert path is not None  # fidelity_extractor refuses a missing path

    def features(x: torch.Tensor) -> torch.Tensor:
        f = extractor(to_uint8_rgb(x))
        if tuple(f.shape) != (len(x), FEATURE_DIM):
            raise GankitError(f"the Inception extractor gave features of shape "
                              f"{tuple(f.shape)}, not ({len(x)}, {FEATURE_DIM})")
        return f

    return FeatureNetwork("inception", file_digest(path), None, features, None, batch_size=64,
                          preprocess=describe_preprocess)
