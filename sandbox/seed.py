"""Initial values for sandbox secrets, generated fresh on every run (nothing secret is stored in the repo)."""

from __future__ import annotations

import base64
import json
import secrets

__all__ = ["seed_value"]


def seed_value(kind: str) -> str:
    """A realistic starting value for a secret of ``kind``."""
    if kind == "session_secret":
        return base64.b64encode(secrets.token_bytes(32)).decode()
    raise ValueError(f"no sandbox seed for kind {kind!r}")


def seed_keyring() -> str:
    """A JSON keyring as ``api-encryption-key`` holds it."""
    return json.dumps({"current": secrets.token_hex(32), "previous": [], "cipher": "AES-256-GCM"})


def seed_postgres_role(
    superuser_url: str, role: str, *, masterarn: str | None = None, replica: tuple[str, int] | None = None
) -> str:
    """(Re)create ``role`` with a fresh password on the server; returns its secret (URL, or JSON with a master).

    With ``replica`` (host and port of a streaming replica of the server) the secret points there, once the
    replica has the role.
    """
    from urllib.parse import quote

    import psycopg
    from psycopg import sql

    from rotator.codecs import ConnectionUrl

    password = secrets.token_urlsafe(24)
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))
        position = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    server = ConnectionUrl.parse(superuser_url)
    host, port = replica or (server.host, server.port)
    if replica is not None:
        _await_replica(replica, server.password or "", str(position[0]) if position else "0/0")
    if masterarn is not None:
        return json.dumps(
            {
                "engine": "postgres",
                "host": host,
                "port": port,
                "username": role,
                "password": password,
                "dbname": "postgres",
                "sslmode": "disable",
                "masterarn": masterarn,
            }
        )
    return (
        f"postgresql+asyncpg://{quote(role, safe='')}:{quote(password, safe='')}@{host}:{port}/postgres?sslmode=disable"
    )


def _await_replica(replica: tuple[str, int], superuser_password: str, position: str) -> None:
    """Return once the replica has replayed its primary's WAL up to ``position`` (10 s at most)."""
    import time

    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(host=replica[0], port=replica[1], user="postgres", password=superuser_password,
                         dbname="postgres", sslmode="disable", autocommit=True) as conn:  # fmt: skip
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() > deadline:
                raise SystemExit(f"the replica at {replica[0]}:{replica[1]} is more than 10 s behind its primary")
            time.sleep(0.02)


SELF_ROTATING_RULES = ("on", "~app:*", "&*", "+@all")


def seed_redis_user(
    host: str, port: int, admin_password: str, user: str, *, rules: tuple[str, ...] = SELF_ROTATING_RULES
) -> str:
    """(Re)create a Redis ACL user (by default one that may rotate itself); returns its ``redis://`` secret."""
    import hashlib
    from urllib.parse import quote

    import redis

    password = secrets.token_urlsafe(24)
    digest = "#" + hashlib.sha256(password.encode()).hexdigest()
    with redis.Redis(host=host, port=port, username="admin", password=admin_password) as client:
        client.execute_command("ACL", "SETUSER", user, "reset", *rules, digest)
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/0"


def seed_signing_key(
    algorithm: str = "RS256",
    *,
    pkcs8: bool = False,
    key_id: str = "amply-checkpoint-key-2025",
    valid_from: str = "2025-01-01",
    valid_until: str = "2026-01-01",
    rsa_bits: int = 3072,
    **extra: object,
) -> str:
    """A signing key secret in the shape our users keep (no public_key/algorithm fields yet)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rotator.codecs.keys import Algorithm, generate_key

    key = generate_key(Algorithm(algorithm), rsa_bits=rsa_bits)
    fmt = serialization.PrivateFormat.PKCS8
    if not pkcs8 and not isinstance(key, ed25519.Ed25519PrivateKey):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    document: dict[str, object] = {
        "private_key": pem,
        "key_id": key_id,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    document.update(extra)
    return json.dumps(document)
