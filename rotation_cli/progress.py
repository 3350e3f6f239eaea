"""Progress on standard error while a command waits: on a terminal one live line (rich) that updates in place
(a step's heartbeat, the consumers' rollout, ``N/M`` for ``--all``) above which finished steps print; elsewhere
plain lines, each printed when it changes and a heartbeat at most every ``HEARTBEAT`` seconds. Imported by the
command line only, never by a Lambda function."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["HEARTBEAT", "Progress"]

HEARTBEAT = 30.0  # seconds between repeated plain status lines (a log, not a terminal)


class Progress:
    """A live status line and permanent lines; ``quiet`` drops the status, never a permanent line."""

    def __init__(
        self, *, quiet: bool = False, total: int | None = None, stream: Any = None, terminal: bool | None = None
    ) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True, force_terminal=terminal)
        self.quiet, self.total, self.done = quiet, total, 0
        self._live: Any = None
        self._shown: tuple[str, float] | None = None  # plain mode: the last status key and when it was printed
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        if self.console.is_terminal and not self.quiet:
            from rich.status import Status

            self._live = Status("", console=self.console, spinner="dots")
            self._live.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def status(self, text: str, *, key: str | None = None) -> None:
        """The current state (``key``: what counts as a change, e.g. the text without its elapsed seconds)."""
        if self.quiet:
            return
        counted = f"[{self.done}/{self.total}] " if self.total else ""
        with self._lock:
            if self._live is not None:
                self._live.update(counted + text)
                return
            now, key = time.monotonic(), key or text
            if self._shown is None or self._shown[0] != key or now - self._shown[1] >= HEARTBEAT:
                self._shown = (key, now)
                self.console.print(counted + text, markup=False)

    def line(self, text: str) -> None:
        """A permanent line (a finished step, a secret's outcome)."""
        with self._lock:
            self.console.print(text, markup=False)

    def advance(self) -> None:
        """One more of ``total`` done (``--all``)."""
        with self._lock:
            self.done += 1
            if self._live is not None and self.total:
                self._live.update(f"[{self.done}/{self.total}] rotations finished")
