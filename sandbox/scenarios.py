"""Named trouble states for ``python -m sandbox serve --scenario NAME``: the runbook, practised on a sandbox.

Each puts one sandbox secret into the state its name says, through the same calls real trouble makes, and
``rotation status --check`` then reports it (``test_cli.py`` asserts each verdict):

* ``stuck`` — ``amply/sandbox/stripe-secret-key`` rotated with no key staged: createSecret failed, AWSPENDING
  left behind (``rotation status`` says STUCK, which step, why; practise ``stage`` or ``unstick``);
* ``failing-target`` — ``amply/sandbox/database-url``'s password changed behind Secrets Manager, then a rotation:
  setSecret fails (none of its logins is accepted; practise reading the failure, then restoring the password);
* ``stale-consumer`` — ``amply/sandbox/redis-url`` rotated while the consumer refresh was not listening: its ECS
  tasks still hold AWSPREVIOUS (``rotation consumers`` names them, ``revoke-previous`` refuses);
* ``overdue`` — ``amply/sandbox/session-secret``'s next rotation was due two days ago and its window closed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

__all__ = ["SCENARIOS", "apply_scenario"]


def _stuck(servers: Any) -> str:
    name = "amply/sandbox/stripe-secret-key"
    servers.emulator.rotate(name)  # nothing staged: createSecret refuses, AWSPENDING stays
    return name


def _failing_target(servers: Any) -> str:
    import psycopg
    from psycopg import sql

    from rotator.kinds.postgres.secret import PostgresSecret

    name = "amply/sandbox/database-url"
    role = PostgresSecret.parse(servers.targets.value(name, "AWSCURRENT")).username
    with psycopg.connect(servers.targets.postgres_url, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(secrets.token_urlsafe(24).encode(), role.encode(), b"scram-sha-256")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier.decode())))
    servers.emulator.rotate(name)  # setSecret: none of current, pending or previous logs in
    return name


def _stale_consumer(servers: Any) -> str:
    name = "amply/sandbox/redis-url"
    listening, servers.emulator.on_success[:] = list(servers.emulator.on_success), []
    try:
        servers.emulator.rotate(name)  # RotationSucceeded reaches nobody: the tasks keep the previous value
    finally:
        servers.emulator.on_success[:] = listening
    return name


def _overdue(servers: Any) -> str:
    name = "amply/sandbox/session-secret"
    servers.emulator.schedule_next(name, time.time() - 2 * 86400)
    return name


SCENARIOS: dict[str, Callable[[Any], str]] = {
    "stuck": _stuck, "failing-target": _failing_target, "stale-consumer": _stale_consumer, "overdue": _overdue,
}  # fmt: skip


def apply_scenario(servers: Any, scenario: str) -> str:
    """Put the sandbox into ``scenario``; the secret it concerns."""
    return SCENARIOS[scenario](servers)
