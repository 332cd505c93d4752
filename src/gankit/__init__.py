"""gankit: generative adversarial networks, from the 2014 paper to the systems that followed."""

from gankit.api import load_generator, resume, sample, train
from gankit.averaging import average_generators
from gankit.config import Config, build_config
from gankit.version import __version__

__all__ = ["Config", "__version__", "average_generators", "build_config", "load_generator",
           "resume", "sample", "train"]
