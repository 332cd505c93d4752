"""gankit: generative adversarial networks, from the 2014 paper to the systems that followed."""

__version__ = "0.1.0"

from gankit.api import load_generator, resume, sample, train  # noqa: E402
from gankit.averaging import average_generators  # noqa: E402
from gankit.config import Config, build_config  # noqa: E402

__all__ = ["Config", "__version__", "average_generators", "build_config", "load_generator",
           "resume", "sample", "train"]
