"""Clients that keep logging in with whatever AWSCURRENT holds while rotations run.

Each client caches the secret like our users do (a TTL cache) and re-reads it
on an authentication failure before counting a failed login. Used by the
zero-downtime tests and by ``scripts/load.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.rotate_secret import RotateSecretEmulator

__all__ = ["LoadStats", "run_load"]


@dataclass
class LoadStats:
    """What the workers saw."""

    attempts: int = 0
    failures: int = 0
    longest_window_ms: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _failing_since: float | None = None

    def record(self, ok: bool) -> None:
        now = time.monotonic()
        with self.lock:
            self.attempts += 1
            if ok:
                if self._failing_since is not None:
                    self.longest_window_ms = max(self.longest_window_ms, (now - self._failing_since) * 1000)
                    self._failing_since = None
            else:
                self.failures += 1
                if self._failing_since is None:
                    self._failing_since = now


def run_load(
    emulator: RotateSecretEmulator,
    secret_id: str,
    logs_in: Callable[[str], bool],
    *,
    workers: int,
    rotations: int,
    ttl: float,
) -> LoadStats:
    """Run ``workers`` clients of ``secret_id`` while ``rotations`` rotations happen; returns their statistics."""
    import boto3

    reader = boto3.client("secretsmanager")  # the environment's endpoint: the sandbox
    stats, stop = LoadStats(), threading.Event()

    def read_secret() -> str:
        return str(reader.get_secret_value(SecretId=secret_id)["SecretString"])

    def client() -> None:
        cached, fetched = read_secret(), time.monotonic()
        while not stop.is_set():
            if time.monotonic() - fetched > ttl:
                cached, fetched = read_secret(), time.monotonic()
            ok = logs_in(cached)
            if not ok:  # what a well-behaved client does on an authentication failure
                cached, fetched = read_secret(), time.monotonic()
                ok = logs_in(cached)
            stats.record(ok)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    try:
        for _ in range(rotations):
            result = emulator.rotate(secret_id)
            if not result.ok:
                raise RuntimeError(f"rotation of {secret_id} failed at {result.failed_step}")
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return stats
