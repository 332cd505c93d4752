"""The presets: one TOML file per model and dataset, holding only what differs from the
defaults of gankit.config (the paper's MNIST configuration)."""

from __future__ import annotations

from importlib import resources

from gankit.errors import ConfigError


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("gankit.presets").iterdir()
                  if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise ConfigError(f"unknown preset {name!r}; `gankit presets` lists them: "
                          + ", ".join(preset_names()))
    return resources.files("gankit.presets").joinpath(f"{name}.toml").read_text("utf-8")


def preset_summary(name: str) -> str:
    """The preset's first comment line, its one-line description."""
    first = preset_text(name).splitlines()[0]
    return first.lstrip("# ").strip()
