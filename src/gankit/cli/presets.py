"""``gankit presets``: one line per preset."""

from __future__ import annotations

import argparse

from gankit.config import preset_names, preset_summary


def _presets(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:<16} {preset_summary(name)}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the presets")
    p.set_defaults(func=_presets)
