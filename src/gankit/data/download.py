"""Fetch a file from a list of mirrors: progress bar, checksum, atomic rename."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from gankit.io.atomic import atomic_path


def fetch(filename: str, mirrors: Sequence[str], dest: Path,
          verify: Callable[[Path], None], timeout: float = 30.0) -> list[str]:
    """Download ``filename`` from the first mirror that serves a file passing ``verify``.

    The file is written to a temporary name beside ``dest`` and renamed into place only once
    it has been verified, so an interrupted download never leaves a half file under the real
    name. Returns the reasons each failed mirror gave (empty on a first-try success); raises
    ``OSError`` listing them when every mirror failed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            with atomic_path(dest) as tmp:  # renamed into place only if verify passes
                with tmp.open("wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    total = int(resp.headers.get("Content-Length") or 0) or None
                    with tqdm(total=total, unit="B", unit_scale=True, desc=filename,
                              leave=False) as bar:
                        while chunk := resp.read(1 << 16):
                            out.write(chunk)
                            bar.update(len(chunk))
                verify(tmp)
            return failures
        except Exception as exc:  # noqa: BLE001 - every failure means: try the next mirror
            failures.append(f"{url}: {exc}")
    raise OSError("; ".join(failures))
