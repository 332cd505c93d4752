"""``gankit presets``: each preset's name and its description, wrapped to the terminal."""

from __future__ import annotations

import argparse
import shutil
import textwrap

from gankit.presets import preset_names, preset_summary, preset_text


def description(name: str) -> list[str]:
    """The preset's comment block as paragraphs: its first line (the summary), then the rest."""
    lines = []
    for line in preset_text(name).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    rest = " ".join(line for line in lines[1:] if line)
    return [preset_summary(name), *([rest] if rest else [])]


def _presets(args: argparse.Namespace) -> int:
    names = preset_names()
    indent = max(map(len, names)) + 2
    width = max(40, shutil.get_terminal_size((100, 24)).columns - indent)
    for i, name in enumerate(names):
        paragraphs = description(name) if args.long else [preset_summary(name)]
        lines = [line for text in paragraphs
                 for line in textwrap.wrap(text, width, break_on_hyphens=False)] or [""]
        if args.long and i:
            print()
        print(f"{name:<{indent}}{lines[0]}")
        for line in lines[1:]:
            print(" " * indent + line)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the presets with their descriptions")
    p.add_argument("--long", action="store_true",
                   help="each preset's whole description, not only its first line")
    p.set_defaults(func=_presets)
