"""What every command's parser shares: one-line usage errors and the path argument type."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn


def path_arg(text: str) -> Path:
    """A path argument; NUL is refused here as a usage error rather than a traceback later."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} holds a NUL character, which no path can")
    return Path(text)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line like every other gankit error (exit code 2).

    Long options must be spelt out (``allow_abbrev=False``): otherwise ``--data`` is silently
    read as ``--data-dir``, and a prefix that is unique today becomes an error, or another
    option, when a flag is added. Subcommands' parsers are of this class too, so they inherit it.
    """

    def __init__(self, *args: Any, allow_abbrev: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split("\n"))
        self.exit(2, f"gankit: error: {message}; see `{self.prog} --help`\n")
