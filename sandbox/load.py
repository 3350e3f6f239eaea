"""Clients that keep logging in while rotations run. Used by the tests and by ``scripts/load.py``.

``run_load``: clients that cache the secret like an SDK cache does (a TTL) and re-read it on an
authentication failure before counting a failed login.

``run_ecs_consumers``: ECS-style consumers (``sandbox.ecs_agent``), processes that got the secret once at
launch and never re-read it; with the refresh (the sandbox's functions, which guard revoking steps, and the
refresh function after each rotation), or without it (functions that know no consumer, and no refresh).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.rotate_secret import RotateSecretEmulator

__all__ = ["LoadStats", "run_ecs_consumers", "run_load"]


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


def run_ecs_consumers(servers: Any, harness: Any, *, rotations: int, refresh: bool) -> Any:
    """Rotate a new secret of ``harness`` ``rotations`` times while a consumer service runs; the service.

    A step the guard refused (its consumers were still being redeployed) is retried once the rollouts
    settled, as Secrets Manager retries it.
    """
    import os
    import secrets

    from rotator.errors import StaleConsumersError
    from rotator.handler import handler_for
    from rotator.settings import Settings
    from sandbox.rotate_secret import lambda_arn

    targets = servers.targets
    arn = targets.client.create_secret(
        Name=f"amply/load/ecs-{secrets.token_hex(3)}", SecretString=harness.seed(targets)
    )["ARN"]
    emulator = servers.emulator
    if not refresh:
        unaware = Settings.from_env({**os.environ, "ROTATION_CONSUMER_CLUSTERS": ""})
        emulator = RotateSecretEmulator({lambda_arn(harness.kind): handler_for(harness.kind, unaware)})
    emulator.enable_rotation(arn, harness.kind)
    service = servers.ecs.run_service(arn, harness.label)
    for _ in range(rotations):
        time.sleep(0.5)  # the consumers keep opening connections
        result = emulator.rotate(arn)
        while isinstance(result.error, StaleConsumersError):
            servers.ecs.wait_until_settled()
            result = emulator.retry(arn)
        if not result.ok:
            raise RuntimeError(f"rotation of {arn} failed at {result.failed_step}: {result.error}")
    time.sleep(0.5)
    servers.ecs.wait_until_settled()
    return service
