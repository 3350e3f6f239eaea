"""postgres: both strategies and both formats against a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rotator.constants import Stage, Step
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    PolicyError,
    SecretFormatError,
    SecretNotFoundError,
    TargetRejectedError,
    TargetUnreachableError,
)
from rotator.kinds.postgres.secret import PostgresSecret
from sandbox.certificates import make_tls
from sandbox.moto_server import Fault, MotoServer
from sandbox.probes import postgres_logs_in
from sandbox.rotate_secret import RotateSecretEmulator
from sandbox.tls_proxy import TlsProxy
from tests.helpers import (
    PostgresTarget,
    crash_once_after,
    emulator_for,
    engine_for,
    expect_failure,
    stage_value,
    version_with,
)
from tests.leak_canary import register_secret, secret_parts

MakeSecret = Callable[..., str]


def create_role(admin: psycopg.Connection[Any], name: str, password: str) -> None:
    register_secret(password)
    verifier = admin.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(verifier)))


def new_role(admin: psycopg.Connection[Any]) -> tuple[str, str]:
    """A fresh login role with a random password."""
    user, password = user_name(), secrets.token_urlsafe(18)
    create_role(admin, user, password)
    return user, password


def secret_text(form: str, place: tuple[str, int], user: str, password: str, **extra: Any) -> str:
    host, port = place
    if form == "url":
        from urllib.parse import quote

        query = "&".join(f"{k}={v}" for k, v in {"sslmode": "disable", "application_name": "api", **extra}.items())
        return f"postgresql+asyncpg://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/postgres?{query}"
    doc = {"engine": "postgres", "host": host, "port": port, "username": user, "password": password}
    doc.update({"dbname": "postgres", "sslmode": "disable", "note": "kept"}, **extra)
    return json.dumps(doc)


def user_name(prefix: str = "app") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


@pytest.fixture
def master_arn(postgres: PostgresTarget) -> str:
    """The session's master secret: verify-full with channel binding through the server's TLS front."""
    return postgres.master_arn


@pytest.mark.parametrize("form", ["url", "json"])
@pytest.mark.parametrize("strategy", ["single", "alternating"])
def test_five_rotations_keep_current_working(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    master_arn: str,
    form: str,
    strategy: str,
) -> None:
    user, password = new_role(admin)
    extra = {"masterarn": master_arn} if strategy == "alternating" and form == "json" else {}
    arn = make_secret(unique_name("database-url"), secret_text(form, place, user, password, **extra), "postgres")
    env = {"ROTATION_POSTGRES_MASTER_SECRET_ARN": master_arn} if strategy == "alternating" and form == "url" else {}
    emulator = emulator_for(engine_for("postgres", **env))
    users_seen = {user}
    for _ in range(5):
        result = emulator.rotate(arn)
        assert result.ok, (result.failed_step, result.error)
        current = stage_value(sm_client, arn, Stage.CURRENT)
        previous = stage_value(sm_client, arn, Stage.PREVIOUS)
        assert postgres_logs_in(current)
        assert postgres_logs_in(previous) is (strategy == "alternating")
        users_seen.add(PostgresSecret.parse(current).username)
        if form == "url":
            assert current.startswith("postgresql+asyncpg://")
            assert current.endswith("/postgres?sslmode=disable&application_name=api")
        else:
            doc = json.loads(current)
            assert doc["note"] == "kept"
            assert list(doc)[:5] == ["engine", "host", "port", "username", "password"]
    assert users_seen == ({user, f"{user}_clone"} if strategy == "alternating" else {user})


def test_a_healthy_single_user_rotation_never_reads_awsprevious(
    admin: psycopg.Connection[Any], place: tuple[str, int], sm_client: Any, moto_server: MotoServer,
    make_secret: MakeSecret, unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """AWSPREVIOUS is a fallback after a refused login, read only then (one Secrets Manager call saved)."""
    user, password = new_role(admin)
    arn = make_secret(unique_name("database-url"), secret_text("url", place, user, password), "postgres")
    assert emulator_for(engine_for("postgres")).rotate(arn).ok  # now there is an AWSPREVIOUS
    reads: list[dict[str, Any]] = []

    def watch(service: str, operation: str, body: bytes) -> None:
        if operation == "GetSecretValue":
            reads.append(json.loads(body))

    moto_server.log.emulated.append(watch)
    try:
        previous = version_with(sm_client, arn, Stage.PREVIOUS)
        result = emulator_for(engine_for("postgres")).rotate(arn)  # a new container: nothing cached
    finally:
        moto_server.log.emulated.remove(watch)
    assert result.ok, result.error
    assert reads, "the watch saw no read"
    assert [r for r in reads if r.get("VersionStage") == "AWSPREVIOUS" or r.get("VersionId") == previous] == []


def test_no_password_reaches_the_server_log(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    master_arn: str,
) -> None:
    user = user_name()
    create_role(admin, user, secrets.token_urlsafe(18))
    single = make_secret(
        unique_name("database-url"), secret_text("url", place, user, secrets.token_urlsafe(18)), "postgres"
    )
    admin.execute(sql.SQL("ALTER ROLE {} PASSWORD NULL").format(sql.Identifier(user)))
    alt_user = user_name()
    alt_pw = secrets.token_urlsafe(18)
    create_role(admin, alt_user, alt_pw)
    alternating = make_secret(
        unique_name("database-url"), secret_text("json", place, alt_user, alt_pw, masterarn=master_arn), "postgres"
    )
    # The single-user secret's current password was never set, so log in works only for the alternating one:
    # set it now, then rotate both twice.
    current = PostgresSecret.parse(stage_value(sm_client, single, Stage.CURRENT))
    verifier = admin.pgconn.encrypt_password(current.password.encode(), user.encode(), b"scram-sha-256").decode()
    admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(verifier)))
    emulator = emulator_for(engine_for("postgres"))
    passwords = []
    for arn in (single, alternating) * 2:
        assert emulator.rotate(arn).ok
        passwords.append(PostgresSecret.parse(stage_value(sm_client, arn, Stage.CURRENT)).password)
    log = postgres.log_text()
    assert "SCRAM-SHA-256$4096:" in log, "statements are not being logged"
    assert not [p for p in passwords if p in log], "a generated password reached the server log"


def test_crash_after_each_side_effect_converges_and_someone_always_logs_in(
    moto_server: MotoServer,
    fault_free: None,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = new_role(admin)
    arn = make_secret(unique_name("database-url"), secret_text("url", place, user, password), "postgres")
    emulator = emulator_for(engine_for("postgres"))

    def someone_logs_in(token: str) -> bool:
        versions = sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
        texts = [stage_value(sm_client, arn, Stage.CURRENT)]
        if Stage.PENDING in versions.get(token, []):
            with contextlib.suppress(sm_client.exceptions.ResourceNotFoundException):
                texts.append(sm_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
        return any(postgres_logs_in(text) for text in texts)

    for point, failed in (("create", Step.CREATE), ("apply", Step.SET), ("verify", Step.TEST)):
        old = stage_value(sm_client, arn, Stage.CURRENT)
        if point == "create":  # the pending value is stored, then the process dies
            moto_server.log.inject(Fault("PutSecretValue", "fail_after", times=1))
            crashed = emulator_for(engine_for("postgres", ROTATION_SM_MAX_ATTEMPTS="1")).rotate(arn)
        else:
            crashed = emulator_for(crash_once_after(engine_for("postgres"), point)).rotate(arn)
        assert crashed.failed_step is failed
        assert someone_logs_in(crashed.token)
        retried = emulator.retry(arn)
        assert retried.ok, retried.error
        assert postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT))
        assert stage_value(sm_client, arn, Stage.PREVIOUS) == old


def test_previous_password_is_used_after_a_rollback(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = new_role(admin)
    arn = make_secret(unique_name("database-url"), secret_text("json", place, user, password), "postgres")
    first = emulator.rotate(arn)
    assert first.ok
    # An operator rolls AWSCURRENT back although the database already has the new password.
    sm_client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=first.old_version, RemoveFromVersionId=first.token
    )
    sm_client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=first.token)
    assert not postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT))
    second = emulator.rotate(arn)
    assert second.ok, second.error
    assert postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT))


def test_alternating_users_resync_memberships_every_rotation(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    master_arn: str,
) -> None:
    user, password = user_name(), secrets.token_urlsafe(18)
    readers, writers = user_name("readers"), user_name("writers")
    create_role(admin, user, password)
    for role in (readers, writers):
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(readers), sql.Identifier(user)))
    arn = make_secret(
        unique_name("database-url"), secret_text("json", place, user, password, masterarn=master_arn), "postgres"
    )
    emulator = emulator_for(engine_for("postgres"))

    def memberships(role: str) -> set[str]:
        rows = admin.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (role,),
        ).fetchall()
        return {row[0] for row in rows}

    assert emulator.rotate(arn).ok
    assert memberships(f"{user}_clone") == {user, readers}
    admin.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(readers), sql.Identifier(user)))
    admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(writers), sql.Identifier(user)))
    assert emulator.rotate(arn).ok  # back to the base user; the clone is still re-synced
    assert memberships(f"{user}_clone") == {user, writers}


def test_hostile_username_is_rotated_safely(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = 'x"; DROP ROLE postgres; --' + secrets.token_hex(2), secrets.token_urlsafe(18)
    create_role(admin, user, password)
    arn = make_secret(unique_name("database-url"), secret_text("json", place, user, password), "postgres")
    assert emulator.rotate(arn).ok
    assert postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT))
    assert admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'postgres'").fetchone() == (1,)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('{"engine": "mysql", "host": "h", "username": "u", "password": "p4ssw0rd!"}', "engine 'mysql'"),
        ('{"engine": "postgres", "host": "h", "password": "p4ssw0rd!"}', "no username"),
        ('{"engine": "postgres", "host": "h", "username": "u"}', "no password"),
        ('{"engine": "postgres", "username": "u", "password": "p4ssw0rd!"}', "lacks the field 'host'"),
        ('{"engine": "postgres", "host": "h", "port": "x", "username": "u", "password": "p4ssw0rd!"}', "'port'"),
        ("postgresql://u:p4ssw0rd!@/db", "no valid host"),
        ("mysql://u:p4ssw0rd!@h/db", "scheme 'mysql'"),
        ("postgresql://u:p4ssw0rd!@h/db?sslmode=sometimes", "unknown sslmode"),
    ],
)
def test_malformed_secrets_fail_create_and_change_nothing(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    value: str,
    problem: str,
) -> None:
    arn = make_secret(unique_name("database-url"), value, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.CREATE, SecretFormatError)
    assert problem in str(error)
    assert "p4ssw0rd!" not in str(error)


def test_current_credentials_that_no_longer_work_are_refused_and_nothing_changes(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = new_role(admin)
    arn = make_secret(
        unique_name("database-url"), secret_text("url", place, user, secrets.token_urlsafe(18)), "postgres"
    )
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetRejectedError)
    assert f"none of the current, pending or previous passwords of {user}" in str(error)
    assert postgres_logs_in(secret_text("url", place, user, password)), "the database password changed"


def test_master_secret_missing_or_unable_to_log_in(
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = new_role(admin)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/none/master-AbCdEf"
    arn = make_secret(
        unique_name("database-url"), secret_text("json", place, user, password, masterarn=missing), "postgres"
    )
    error = expect_failure(sm_client, emulator, arn, Step.CREATE, ConfigurationError)
    assert "ROTATION_POSTGRES_MASTER_SECRET_ARNS" in str(error)  # not configured: never read

    wrong_master = make_secret(
        unique_name("postgres-master"),
        secret_text("url", place, "postgres", secrets.token_urlsafe(18), sslmode="verify-full"),
        rotation=False,
    )
    allowing = emulator_for(engine_for("postgres", ROTATION_POSTGRES_MASTER_SECRET_ARNS=f"{missing},{wrong_master}"))
    arn_allowed = make_secret(
        unique_name("database-url"), secret_text("json", place, user, password, masterarn=missing), "postgres"
    )
    expect_failure(sm_client, allowing, arn_allowed, Step.SET, SecretNotFoundError)
    arn2 = make_secret(
        unique_name("database-url"), secret_text("json", place, user, password, masterarn=wrong_master), "postgres"
    )
    error = expect_failure(sm_client, allowing, arn2, Step.SET, AuthenticationError)
    assert "as postgres refused the password" in str(error)
    assert postgres_logs_in(secret_text("url", place, user, password))


def test_database_down_fails_after_the_timeout_and_keeps_current(
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    arn = make_secret(
        unique_name("database-url"),
        secret_text("url", ("127.0.0.1", dead_port), "app", secrets.token_urlsafe(18)),
        "postgres",
    )
    started = time.monotonic()
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetUnreachableError)
    assert time.monotonic() - started < 15
    assert f"127.0.0.1:{dead_port} as app" in str(error)


def test_policy_excluding_every_character_is_refused(
    place: tuple[str, int], sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    import string

    everything = string.ascii_letters + string.digits + string.punctuation
    emulator = emulator_for(engine_for("postgres", ROTATION_EXCLUDE_CHARACTERS=everything))
    arn = make_secret(
        unique_name("database-url"), secret_text("url", place, "app", secrets.token_urlsafe(18)), "postgres"
    )
    expect_failure(sm_client, emulator, arn, Step.CREATE, PolicyError)


@pytest.fixture(scope="module")
def tls_postgres(
    postgres: PostgresTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TlsProxy, str, Path, Path]]:
    """The test server behind PostgreSQL's TLS negotiation (the wheel's server has no SSL support)."""
    material, wrong = make_tls(), make_tls()
    folder = tmp_path_factory.mktemp("tls")
    (folder / "ca.pem").write_bytes(material.ca_pem)
    (folder / "wrong-ca.pem").write_bytes(wrong.ca_pem)
    if postgres.server is None:
        pytest.skip("needs the suite's own server (its SCRAM verifiers)")
    server = postgres.server
    proxy = TlsProxy(
        (server.host, server.port), material.cert_pem, material.key_pem, protocol="postgres",
        scram_verifier=server.scram_verifier,
    ).start()  # fmt: skip
    try:
        yield proxy, postgres.superuser_url, folder / "ca.pem", folder / "wrong-ca.pem"
    finally:
        proxy.stop()


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_tls_modes_rotate_over_verified_tls_with_channel_binding(
    tls_postgres: tuple[TlsProxy, str, Path, Path],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    mode: str,
) -> None:
    server, superuser_url, ca, _ = tls_postgres
    # require and verify-ca are verified as verify-full: the CA is the function's configured one.
    emulator = emulator_for(engine_for("postgres", ROTATION_POSTGRES_SSLROOTCERT=str(ca)))
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        user, password = new_role(admin)
        arn = make_secret(
            unique_name("database-url"),
            secret_text("json", (server.host, server.port), user, password, sslmode=mode),
            "postgres",
        )
        result = emulator.rotate(arn)
        assert result.ok, result.error
        secret = PostgresSecret.parse(stage_value(sm_client, arn, Stage.CURRENT))
        with psycopg.connect(
            host=secret.host, port=secret.port, user=secret.username, password=secret.password,
            dbname="postgres", sslmode="verify-full", sslrootcert=str(ca), channel_binding="require",
        ) as conn:  # fmt: skip
            assert conn.pgconn.ssl_in_use


def test_require_with_an_untrusted_certificate_is_refused_unless_allowed(
    tls_postgres: tuple[TlsProxy, str, Path, Path],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    server, superuser_url, _, _ = tls_postgres
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        user, password = new_role(admin)
    text = secret_text("url", (server.host, server.port), user, password, sslmode="require")
    arn = make_secret(unique_name("database-url"), text, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetUnreachableError)
    assert "sslmode=require, verified as verify-full" in str(error)
    assert "ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS=true" in str(error)
    # The documented opt-in accepts the certificate unverified; SCRAM with channel binding is still required.
    unverified = emulator_for(engine_for("postgres", ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS="true"))
    result = unverified.retry(arn)
    assert result.ok, result.error


def test_tls_with_the_wrong_ca_fails_clearly_and_changes_nothing(
    tls_postgres: tuple[TlsProxy, str, Path, Path],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    server, superuser_url, _, wrong_ca = tls_postgres
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        user, password = new_role(admin)
    text = secret_text(
        "url", (server.host, server.port), user, password, sslmode="verify-full", sslrootcert=str(wrong_ca)
    )
    arn = make_secret(unique_name("database-url"), text, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetUnreachableError)
    assert "sslmode=verify-full" in str(error)
    assert "TLS verification" in str(error)


@pytest.mark.parametrize(
    ("ssl", "mode"), [(True, "verify-full"), ("true", "verify-full"), ("TRUE", "verify-full"), (False, "disable"),
                      ("false", "disable"), (None, None)],
)  # fmt: skip
def test_the_aws_sample_functions_ssl_field_is_honoured(ssl: object, mode: str | None) -> None:
    doc: dict[str, Any] = {"engine": "postgres", "host": "db.internal", "username": "app", "password": "p" * 20}
    if ssl is not None:
        doc["ssl"] = ssl
    assert PostgresSecret.parse(json.dumps(doc)).sslmode == mode


def test_a_secret_written_for_the_aws_sample_functions_rotates_unchanged(
    place: tuple[str, int],
    admin: psycopg.Connection[Any],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    """A drop-in replacement: the JSON the AWS sample PostgreSQL functions read, extra fields included."""
    user, password = new_role(admin)
    host, port = place
    document = {
        "engine": "postgres", "host": host, "username": user, "password": password, "dbname": "postgres",
        "port": port, "ssl": False, "dbClusterIdentifier": "amply-prod-cluster", "proxyname": "amply-proxy",
    }  # fmt: skip
    arn = make_secret(unique_name("database-url"), json.dumps(document), "postgres")
    assert emulator.rotate(arn).ok
    rotated = json.loads(stage_value(sm_client, arn, Stage.CURRENT))
    assert {k: v for k, v in rotated.items() if k != "password"} == {
        k: v for k, v in document.items() if k != "password"
    }
    assert postgres_logs_in(json.dumps({**rotated, "sslmode": "disable"}))
    with pytest.raises(SecretFormatError, match="'ssl' must be true or false"):
        PostgresSecret.parse(json.dumps({**document, "ssl": "maybe"}))


def test_the_default_ca_is_the_lambda_runtimes_bundle_file_never_libpqs_system() -> None:
    """On the python3.13 runtime (Amazon Linux 2023) the CA bundle file is /etc/pki/tls/cert.pem, as AWS's own
    rotation functions use; libpq's "system" means a directory compiled into psycopg-binary's OpenSSL that the
    runtime does not have."""
    from rotator.kinds.postgres.settings import PostgresSettings
    from rotator.settings import CA_BUNDLE_CANDIDATES, ca_bundle

    on_lambda = {"/etc/pki/tls/cert.pem"}
    assert ca_bundle(None, exists=on_lambda.__contains__) == "/etc/pki/tls/cert.pem"
    assert ca_bundle("system", exists=on_lambda.__contains__) == "/etc/pki/tls/cert.pem"
    assert ca_bundle("/opt/python/rds-global-bundle.pem", exists=on_lambda.__contains__) == (
        "/opt/python/rds-global-bundle.pem"
    )
    assert PostgresSettings.from_env({}).sslrootcert in CA_BUNDLE_CANDIDATES
    assert PostgresSettings.from_env({"ROTATION_POSTGRES_SSLROOTCERT": "system"}).sslrootcert in CA_BUNDLE_CANDIDATES


def test_a_ca_given_as_pem_text_is_written_once_to_a_private_file(tmp_path: Path, monkeypatch: Any) -> None:
    """A container (``sam local invoke``) cannot read this machine's CA file: the variable may hold the PEM."""
    import stat
    import tempfile

    from rotator.settings import ca_bundle
    from sandbox.certificates import make_tls

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pem = make_tls().ca_pem.decode()
    path = Path(ca_bundle(pem))
    assert path.parent == tmp_path
    assert path.read_text() == pem.strip() + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ca_bundle("\n" + pem) == str(path)  # the same certificate, the same file
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_role_another_session_is_altering_is_busy_not_refused(
    targets: Any, sm_client: Any, make_secret: Callable[..., str], unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """An operator's open transaction altering the same role: setSecret waits lock_timeout, then fails with the
    retryable TargetBusyError (nothing changed), and Secrets Manager's retry succeeds once the other session ends."""
    from rotator.errors import TargetBusyError
    from sandbox.seed import seed_postgres_role
    from tests.helpers import emulator_for, engine_for, expect_failure

    role = f"amply_busy_{secrets.token_hex(3)}"
    value = seed_postgres_role(targets.postgres_url, role)
    register_secret(*secret_parts(value))
    arn = make_secret(unique_name(role), value, "postgres", rotation=False)
    emulator = emulator_for(engine_for("postgres", ROTATION_POSTGRES_STATEMENT_TIMEOUT_MS="500"))
    emulator.enable_rotation(arn, "postgres")
    with psycopg.connect(targets.postgres_url) as other:  # a transaction, open until rolled back
        other.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 50").format(sql.Identifier(role)))  # not committed
        error = expect_failure(sm_client, emulator, arn, Step.SET, TargetBusyError)
        assert "will be retried" in str(error)
        assert postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT)), "the password changed anyway"
        other.rollback()
    assert emulator.retry(arn).ok
    assert postgres_logs_in(stage_value(sm_client, arn, Stage.CURRENT))
