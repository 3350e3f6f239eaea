"""The bounded wait for a target still applying a change: a managed user or group ``modifying``, a replica
replaying the writer's change.

A step never waits past its bound: it fails with the retryable ``TargetBusyError`` the caller describes, and
Secrets Manager re-drives it (every step is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rotator.errors import RotationError

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], *, seconds: float, poll: float, gave_up: Callable[[], RotationError]) -> T:
    """``check()`` until it returns a value; ``gave_up()`` is raised rather than sleeping past ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = check()
        if outcome is not None:
            return outcome
        if time.monotonic() + poll > deadline:
            raise gave_up()
        time.sleep(poll)
