"""Does a secret's value log in to its target? (the demo, the load script and the tests ask)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["postgres_logs_in", "redis_logs_in", "refused_logins"]

_PG_REFUSED = "password authentication failed"


def refused_logins(postgres: Any, replica: Any, redis_place: tuple[str, int, str], managed: Any) -> dict[str, int]:
    """Logins each server recorded as refused so far: the logs of PostgreSQL and its replica, their TLS fronts'
    SCRAM refusals, the Redis server's ACL LOG (``redis_place``: host, port, admin password), the managed Redis
    servers' ACL LOGs."""
    import redis

    host, port, password = redis_place
    with redis.Redis(host=host, port=port, username="admin", password=password) as admin:
        entries = admin.acl_log(10_000)
    return {
        "postgres log": postgres.log_text().count(_PG_REFUSED),
        "replica log": replica.log_text().count(_PG_REFUSED),
        "tls fronts": postgres.front.auth_failures + replica.front.auth_failures,
        "redis acl log": sum(int(entry.get("count", 1)) for entry in entries if entry.get("reason") == "auth"),
        "managed redis": managed.failed_logins(),
    }


def postgres_logs_in(text: str) -> bool:
    """True when the secret's user and password open a session as that user (no TLS: loopback servers)."""
    import psycopg

    from rotator.kinds.postgres.secret import PostgresSecret

    secret = PostgresSecret.parse(text)
    try:
        with psycopg.connect(
            host=secret.host, port=secret.port, user=secret.username, password=secret.password,
            dbname=secret.dbname, sslmode="disable", connect_timeout=3,
        ) as conn:  # fmt: skip
            return conn.execute("SELECT current_user").fetchone() == (secret.username,)
    except psycopg.OperationalError:
        return False


def redis_logs_in(text: str, *, ca: Path | None = None, node: tuple[str, int] | None = None) -> bool:
    """True when the secret's user and password authenticate (on ``node`` if given; TLS with ``ca``)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from rotator.kinds.redis.secret import RedisSecret

    secret = RedisSecret.parse(text)
    host, port = node or (secret.host, secret.port)
    tls: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(ca)} if secret.tls else {}
    try:
        with redis.Redis(
            host=host, port=port, username=secret.username, password=secret.password, socket_timeout=3,
            retry=Retry(NoBackoff(), 0), **tls,  # type: ignore[arg-type]
        ) as client:  # fmt: skip
            return bool(client.ping())
    except redis.exceptions.RedisError:
        return False
