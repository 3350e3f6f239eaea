"""Healthy rotations refuse no login: what database audit logs and threat detection alert on stays at zero.

Every harness entry with a login target is rotated twice; the servers' own records of failed authentication
(the logs of PostgreSQL and its streaming replica, the TLS fronts' SCRAM refusals, the ACL LOG of every Redis
server) must not grow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from sandbox.harness import HARNESSES, KindHarness, Targets
from sandbox.postgres_server import PostgresServer
from sandbox.probes import refused_logins
from tests.helpers import PostgresTarget, RedisTarget, emulator_for, engine_for

LOGIN_KINDS = ("postgres", "redis")


def _failed_logins(postgres: PostgresTarget, replica: PostgresServer, targets: Targets) -> dict[str, int]:
    assert postgres.server is not None
    return refused_logins(postgres.server, replica, targets.redis, targets.managed)


@pytest.mark.parametrize("harness", [h for h in HARNESSES if h.kind in LOGIN_KINDS], ids=lambda h: h.label)
def test_a_healthy_rotation_refuses_no_login(
    harness: KindHarness,
    targets: Targets,
    postgres: PostgresTarget,
    postgres_replica: PostgresServer,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
    sm_client: Any,
) -> None:
    if postgres.server is None:
        pytest.skip("needs the suite's own PostgreSQL server (its log)")
    arn = make_secret(unique_name(harness.kind), harness.seed(targets), harness.kind)
    emulator = emulator_for(engine_for(harness.kind))
    before = _failed_logins(postgres, postgres_replica, targets)
    for _ in range(2):
        harness.before_rotation(targets, arn)
        result = emulator.rotate(arn)
        assert result.ok, result.error
    assert _failed_logins(postgres, postgres_replica, targets) == before


def test_the_counters_see_a_refused_login(
    postgres: PostgresTarget, postgres_replica: PostgresServer, redis_primary: RedisTarget, targets: Targets
) -> None:
    """The control: a wrong password to each server shows up where the test above looks."""
    import psycopg

    from rotator.codecs import ConnectionUrl

    if postgres.server is None:
        pytest.skip("needs the suite's own PostgreSQL server (its log)")
    before = _failed_logins(postgres, postgres_replica, targets)
    url = ConnectionUrl.parse(postgres.superuser_url)
    for host, port in ((url.host, url.port), (postgres_replica.front.host, postgres_replica.front.port)):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=host, port=port, user="postgres", password="wrong-password-1", dbname="postgres",
                            sslmode="disable", connect_timeout=3)  # fmt: skip
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=redis_primary.host, port=redis_primary.port, username="admin", password="wrong-1").ping()
    host, port = targets.managed.nodes()[1]  # a managed server's reader
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=host, port=port, username="nobody", password="wrong-1").ping()
    after = _failed_logins(postgres, postgres_replica, targets)
    for counter in ("postgres log", "replica log", "redis acl log", "managed redis"):
        assert after[counter] > before[counter], counter
    assert after["tls fronts"] == before["tls fronts"]  # a plaintext login is the backend's to refuse


def test_every_step_logs_each_external_call_with_its_duration(
    targets: Targets,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    harness = next(h for h in HARNESSES if h.label == "postgres (alternating users)")
    arn = make_secret(unique_name("database-url"), harness.seed(targets), "postgres")
    assert emulator_for(engine_for("postgres")).rotate(arn).ok
    done = {line["step"]: line["calls"] for line in log_lines() if line.get("message") == "rotation step done"}
    assert set(done) == {"createSecret", "setSecret", "testSecret", "finishSecret"}
    for calls in done.values():
        assert all(isinstance(call["ms"], float | int) and call["ms"] >= 0 for call in calls)
    named = {step: [(call["service"], call["call"]) for call in calls] for step, calls in done.items()}
    assert ("secretsmanager", "DescribeSecret") in named["createSecret"]
    assert ("secretsmanager", "PutSecretValue") in named["createSecret"]
    assert not any(service == "postgres" for service, _ in named["createSecret"] + named["finishSecret"])
    assert named["setSecret"].count(("postgres", "connect")) == 2  # the proof as AWSCURRENT, then the master
    assert ("postgres", "check roles") in named["setSecret"]
    assert ("postgres", "ALTER ROLE PASSWORD") in named["setSecret"]
    assert ("postgres", "SELECT current_user") in named["testSecret"]
    assert ("secretsmanager", "UpdateSecretVersionStage") in named["finishSecret"]
