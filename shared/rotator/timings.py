"""Per-call timings of one invocation: every Secrets Manager, S3, database, cache and Stripe call, with its duration.

What an operator needs when a rotation is slow, without a tracing SDK: the step's
log line carries ``calls`` (service, call, milliseconds, and ``failed`` when it
raised). The list is per invocation (a context variable), so concurrent
invocations in one process never mix their calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Call", "calls", "collecting", "timed"]

Call = dict[str, object]

_CALLS: ContextVar[list[Call] | None] = ContextVar("rotation_calls", default=None)


@contextmanager
def collecting() -> Iterator[list[Call]]:
    """Collect the calls made until the block ends (one invocation)."""
    collected: list[Call] = []
    marker = _CALLS.set(collected)
    try:
        yield collected
    finally:
        _CALLS.reset(marker)


@contextmanager
def timed(service: str, call: str) -> Iterator[None]:
    """Record ``call`` to ``service`` with its duration (and whether it raised) in the current collection."""
    started = time.perf_counter()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        collected = _CALLS.get()
        if collected is not None:
            entry: Call = {"service": service, "call": call, "ms": round((time.perf_counter() - started) * 1000, 2)}
            if failed:
                entry["failed"] = True
            collected.append(entry)


def calls() -> list[Call]:
    """The calls collected so far in this invocation (empty outside one)."""
    return list(_CALLS.get() or [])
