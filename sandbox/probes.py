"""Does a secret's value log in to its target? (the demo, the load script and the tests ask)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["postgres_logs_in", "redis_logs_in"]


def postgres_logs_in(text: str) -> bool:
    """True when the secret's user and password open a session as that user (no TLS: loopback servers)."""
    import psycopg

    from rotator.kinds.postgres import PostgresSecret

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

    from rotator.kinds.redis import RedisSecret

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
