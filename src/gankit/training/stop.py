"""Stop requests by signal: SIGINT or SIGTERM asks the loop to stop after the current step
(with a checkpoint); a second one stops at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any


class StopRequests:
    """While entered (in the main thread), route SIGINT/SIGTERM to ``request_stop(signum)``."""

    def __init__(self, request_stop: Callable[[int], None]) -> None:
        self.request_stop = request_stop
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self.request_stop(signum)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
