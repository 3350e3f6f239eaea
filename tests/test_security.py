"""The attacks of the security review, reproduced against real servers, a hostile server and a TLS front.

Each test plays the attacker (someone who can write an application secret, or invoke a function, or sit on
the network with a certificate of their own) and shows the rotation refuses with nothing changed and nothing
sent where it must not go.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from rotator.codecs import ConnectionUrl
from rotator.constants import Stage, Step
from rotator.errors import (
    ForbiddenTargetError,
    NotRotationFunctionError,
    PolicyError,
    SecretFormatError,
    TargetRejectedError,
    TargetUnreachableError,
)
from rotator.observability import logger
from sandbox.certificates import make_tls
from sandbox.harness import HARNESSES, Targets
from sandbox.probes import postgres_logs_in, redis_logs_in
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from sandbox.seed import seed_redis_user, seed_value
from tests.helpers import (
    PostgresTarget,
    RedisTarget,
    emulator_for,
    engine_for,
    expect_failure,
    snapshot,
    stage_value,
)
from tests.leak_canary import register_output, register_secret, secret_parts
from tests.test_postgres import create_role, user_name
from tests.test_postgres import secret_text as pg_secret
from tests.test_redis import new_user
from tests.test_redis import secret_text as redis_secret

MakeSecret = Callable[..., str]


def _verifier(admin: psycopg.Connection[Any], role: str) -> str | None:
    row = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    return None if row is None else str(row[0])


def _role_exists(admin: psycopg.Connection[Any], role: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


# 1. Confused deputy: PostgreSQL, alternating users -----------------------------------------------------------


def test_postgres_secret_naming_the_superusers_clone_cannot_take_over_the_superuser(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    before = _verifier(admin, "postgres")
    text = pg_secret("json", place, "postgres_clone", "guessed-" + secrets.token_hex(8), masterarn=postgres.master_arn)
    arn = make_secret(unique_name("database-url"), text, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.SET, ForbiddenTargetError)
    assert "master secret's own user" in str(error)
    assert _verifier(admin, "postgres") == before
    assert not _role_exists(admin, "postgres_clone")
    assert postgres_logs_in(postgres.superuser_url)


def test_postgres_unproven_credentials_never_reach_the_master(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    victim, password = user_name("victim"), secrets.token_urlsafe(18)
    create_role(admin, victim, password)
    before = _verifier(admin, victim)
    guessed = pg_secret(
        "json", place, victim + "_clone", "guessed-" + secrets.token_hex(8), masterarn=postgres.master_arn
    )
    arn = make_secret(unique_name("database-url"), guessed, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.SET, TargetRejectedError)
    assert f"cannot prove the secret owns {victim}" in str(error)
    assert "master secret was not used" in str(error)
    assert _verifier(admin, victim) == before
    assert postgres_logs_in(pg_secret("url", place, victim, password))


@pytest.mark.parametrize("privilege", ["SUPERUSER", "REPLICATION", "BYPASSRLS"])
@pytest.mark.parametrize("privileged", ["base", "clone"])
def test_postgres_never_changes_or_clones_a_privileged_role(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    privilege: str,
    privileged: str,
) -> None:
    base = user_name("boss")
    roles = {"base": base, "clone": base + "_clone"}
    strong, known = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    register_secret(strong, known)
    # The attacker controls the other role of the pair (knows its password) and aims at the privileged one.
    mine = roles["clone" if privileged == "base" else "base"]
    create_role(admin, mine, known)
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN {}").format(sql.Identifier(roles[privileged]), sql.SQL(privilege)))
    before = _verifier(admin, roles[privileged])
    arn = make_secret(
        unique_name("database-url"), pg_secret("json", place, mine, known, masterarn=postgres.master_arn), "postgres"
    )
    error = expect_failure(sm_client, emulator, arn, Step.SET, ForbiddenTargetError)
    assert f"has {privilege}" in str(error)
    assert _verifier(admin, roles[privileged]) == before


def test_postgres_master_is_used_only_on_its_own_server(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    assert postgres.server is not None
    user, password = user_name(), secrets.token_urlsafe(18)
    create_role(admin, user, password)
    # The same database, reached at another address than the master secret's: setSecret would run on one
    # server and testSecret on another.
    elsewhere = (postgres.server.host, postgres.server.port)
    arn = make_secret(
        unique_name("database-url"), pg_secret("json", elsewhere, user, password, masterarn=postgres.master_arn),
        "postgres",
    )  # fmt: skip
    error = expect_failure(sm_client, emulator, arn, Step.SET, ForbiddenTargetError)
    assert "used only on its own server" in str(error)
    assert not _role_exists(admin, user + "_clone")


def test_postgres_master_always_uses_verified_tls_whatever_its_secret_says(
    postgres: PostgresTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    assert postgres.server is not None
    assert postgres.server.front is not None
    # A master secret that asks for no TLS at all (as an attacker-influenced or careless one might).
    plain_master = make_secret(unique_name("postgres-master"), postgres.superuser_url, rotation=False)
    assert "sslmode=disable" in postgres.superuser_url
    user, password = user_name(), secrets.token_urlsafe(18)
    create_role(admin, user, password)
    arn = make_secret(
        unique_name("database-url"), pg_secret("json", place, user, password, masterarn=plain_master), "postgres"
    )
    engine = engine_for("postgres", ROTATION_POSTGRES_MASTER_SECRET_ARNS=plain_master)
    front = postgres.server.front
    before = front.tls_sessions
    assert emulator_for(engine).rotate(arn).ok
    assert front.tls_sessions == before + 1, "the master session did not use TLS"  # app logins are plaintext


# 1. Confused deputy: Redis with an admin secret ---------------------------------------------------------------


def _acl_passwords(server: RedisTarget, user: str) -> list[str]:
    with redis.Redis(host=server.host, port=server.port, username="admin", password=server.admin_password) as client:
        return sorted(client.acl_getuser(user)["passwords"])


@pytest.mark.parametrize(
    ("user", "error", "says"),
    [
        ("default", TargetRejectedError, "cannot prove the secret owns default"),  # takeover by a guessed name
        ("admin", ForbiddenTargetError, "admin secret's own user"),  # the admin's own user, never changed
    ],
)
def test_a_redis_secret_naming_the_administrator_changes_nothing(
    redis_primary: RedisTarget,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    user: str,
    error: type[Exception],
    says: str,
) -> None:
    before = _acl_passwords(redis_primary, user)
    text = redis_secret(
        "json", redis_primary, user, "guessed-" + secrets.token_hex(8), adminarn=redis_primary.admin_arn
    )
    arn = make_secret(unique_name("redis-url"), text, "redis")
    raised = expect_failure(sm_client, emulator, arn, Step.SET, error)
    assert says in str(raised)
    assert _acl_passwords(redis_primary, user) == before


@pytest.mark.parametrize(
    ("rules", "refused"),
    [
        ("on ~* &* +@all", True),
        ("on ~* &* -@all +@connection +@admin", True),
        ("on ~* &* -@all +@connection +@read +acl", True),
        ("on ~* &* -@all +@connection +@read +acl|setuser", True),
        ("on ~* &* -@all +@connection +@dangerous", True),
        ("on ~* &* +@all -@admin +acl|list", True),
        ("on ~* &* +@all -@admin -@dangerous +acl|whoami", False),
        ("on ~app:* &* +@all -@admin -@dangerous", False),  # least privilege: no ACL command at all
        ("on ~app:* &* -@all +@read +@write +@connection", False),
    ],
)
def test_redis_never_changes_a_user_holding_acl_or_admin(
    redis_primary: RedisTarget,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    rules: str,
    refused: bool,
) -> None:
    user, password = new_user(redis_primary, rules)
    arn = make_secret(
        unique_name("redis-url"), redis_secret("json", redis_primary, user, password, adminarn=redis_primary.admin_arn),
        "redis",
    )  # fmt: skip
    if not refused:
        result = emulator.rotate(arn)
        assert result.ok, result.error
        return
    before = _acl_passwords(redis_primary, user)
    error = expect_failure(sm_client, emulator, arn, Step.SET, ForbiddenTargetError)
    assert f"user {user}" in str(error)
    assert "holds the" in str(error)
    assert "without an admin secret" in str(error)
    assert _acl_passwords(redis_primary, user) == before


# 2. Credentials sent only where their own secret points ------------------------------------------------------


class Listener:
    """A TCP server on loopback that records what clients send and hangs up (an attacker's host)."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", int(self._socket.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(1)
            try:
                while chunk := conn.recv(65536):
                    self.received.extend(chunk)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()  # not scanned by the leak canary: an attacker's own AWSCURRENT may go here, by design


def test_redis_admin_password_never_goes_to_a_node_the_app_secret_adds(
    redis_primary: RedisTarget,
    listener: Listener,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    user, password = new_user(redis_primary)
    text = redis_secret(
        "json",
        redis_primary,
        user,
        password,
        adminarn=redis_primary.admin_arn,
        nodes=[f"{listener.host}:{listener.port}"],
    )
    arn = make_secret(unique_name("redis-url"), text, "redis")
    error = expect_failure(sm_client, emulator, arn, Step.SET, ForbiddenTargetError)
    assert f"{listener.host}:{listener.port}" in str(error)
    assert "not an endpoint of its admin secret" in str(error)
    assert listener.connections == 0
    assert redis_primary.admin_password.encode() not in listener.received


def test_redis_previous_password_never_goes_to_another_host(
    redis_primary: RedisTarget,
    listener: Listener,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    # A user that changes its own password (no admin secret), rotated once: AWSPREVIOUS still works.
    start = seed_redis_user(redis_primary.host, redis_primary.port, redis_primary.admin_password, user_name("self"))
    arn = make_secret(unique_name("redis-url"), start, "redis")
    assert emulator.rotate(arn).ok
    previous = stage_value(sm_client, arn, Stage.PREVIOUS)
    assert redis_logs_in(previous)
    # The attacker points AWSCURRENT at their host with a wrong password.
    url = ConnectionUrl.parse(previous)
    moved = f"redis://{url.username}:wrong-{secrets.token_hex(6)}@{listener.host}:{listener.port}/0"
    sm_client.put_secret_value(SecretId=arn, SecretString=moved, VersionStages=["AWSCURRENT"])
    result = emulator.rotate(arn)
    assert result.failed_step is Step.SET
    assert url.password is not None
    assert url.password.encode() not in listener.received, "AWSPREVIOUS's password went to the attacker's host"


def test_redis_fallback_login_of_another_user_never_changes_this_one(
    redis_primary: RedisTarget,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    start = seed_redis_user(redis_primary.host, redis_primary.port, redis_primary.admin_password, user_name("self"))
    arn = make_secret(unique_name("redis-url"), start, "redis")
    assert emulator.rotate(arn).ok  # AWSPREVIOUS: a user with ACL permissions and a working password
    before = _acl_passwords(redis_primary, "default")
    hijack = redis_secret("url", redis_primary, "default", "guessed-" + secrets.token_hex(8))
    sm_client.put_secret_value(SecretId=arn, SecretString=hijack, VersionStages=["AWSCURRENT"])
    result = emulator.rotate(arn)
    assert result.failed_step is Step.SET
    assert isinstance(result.error, TargetRejectedError)
    assert _acl_passwords(redis_primary, "default") == before


# 3. Passwords to a man-in-the-middle ---------------------------------------------------------------------------


class HostilePostgres(Listener):
    """Answers like a PostgreSQL server with TLS (a certificate nobody trusts), then asks for the password its
    own way: ``cleartext``, ``md5``, or ``scram`` without channel binding (a relay of the real server's SCRAM)."""

    def __init__(self, auth: str) -> None:
        self.auth = auth
        material = make_tls()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        folder = tempfile.mkdtemp(prefix="rotation-hostile-")
        with open(f"{folder}/cert.pem", "wb") as handle:
            handle.write(material.cert_pem)
        with open(f"{folder}/key.pem", "wb") as handle:
            handle.write(material.key_pem)
        self._context.load_cert_chain(f"{folder}/cert.pem", f"{folder}/key.pem")
        super().__init__()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            raw.settimeout(2)
            with contextlib.suppress(OSError, ssl.SSLError, struct.error):
                self._session(raw)
            raw.close()

    def _session(self, raw: socket.socket) -> None:
        conn: socket.socket = raw
        head = raw.recv(8)
        if len(head) == 8 and struct.unpack("!ii", head)[1] == 80877103:
            raw.sendall(b"S")
            conn = self._context.wrap_socket(raw, server_side=True)
            head = b""
        self.received.extend(head + conn.recv(65536))  # the startup message
        request = {"cleartext": struct.pack("!i", 3), "md5": struct.pack("!i", 5) + b"salt"}.get(
            self.auth, struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"
        )
        conn.sendall(b"R" + struct.pack("!i", len(request) + 4) + request)
        while chunk := conn.recv(65536):
            self.received.extend(chunk)


@pytest.mark.parametrize("auth", ["cleartext", "md5", "scram"])
@pytest.mark.parametrize("unverified", [False, True], ids=["default", "unverified-tls-allowed"])
def test_postgres_never_answers_a_downgrade_or_an_unbound_session(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], auth: str, unverified: bool
) -> None:
    hostile = HostilePostgres(auth)
    try:
        password = secrets.token_urlsafe(18)
        register_secret(password)
        arn = make_secret(
            unique_name("database-url"),
            pg_secret("url", (hostile.host, hostile.port), "amply_app", password, sslmode="require"),
            "postgres",
        )
        env = {"ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS": "true"} if unverified else {}
        emulator = emulator_for(engine_for("postgres", **env))
        # A SCRAM offer without channel binding is refused by libpq before it answers; libpq counts that
        # as a login that needed the password, so it surfaces as a refused login rather than a TLS failure.
        expected = TargetRejectedError if unverified and auth == "scram" else TargetUnreachableError
        error = expect_failure(sm_client, emulator, arn, Step.SET, expected)
        if expected is TargetUnreachableError:
            assert "SCRAM-SHA-256 authentication with channel binding" in str(error)
        pending = ConnectionUrl.parse(
            sm_client.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"]
        )
        assert pending.password is not None
        for sent in (password, pending.password):
            assert sent.encode() not in hostile.received
        if unverified:
            # TLS was accepted, so the server got as far as asking: libpq refused to answer.
            assert hostile.connections >= 1
            assert b"SCRAM-SHA-256" not in hostile.received.split(b"amply_app", 1)[-1]
        else:
            assert b"amply_app" not in hostile.received, "the startup message went to an unverified server"
    finally:
        hostile.close()
        register_output("hostile postgres", hostile.received.decode(errors="replace"))


# 4. Secrets in DEBUG logs --------------------------------------------------------------------------------------


def test_a_rotation_of_every_path_at_debug_level_logs_no_secret(
    postgres: PostgresTarget,
    redis_primary: RedisTarget,
    targets: Targets,
    s3_client: Any,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    """What Lambda does with LoggingConfig ApplicationLogLevel DEBUG: the root logger at DEBUG, its own handler."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    root = logging.getLogger()
    saved = (root.level, logger.log_level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logger.setLevel(logging.DEBUG)
    arns = []
    try:
        for harness in HARNESSES:
            arn = make_secret(unique_name(f"debug-{harness.kind}"), harness.seed(targets), harness.kind)
            harness.before_rotation(targets, arn)
            result = emulator.rotate(arn)
            assert result.ok, (harness.label, result.error)
            arns.append(arn)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        logger.setLevel(saved[1])
    text = captured.getvalue()
    register_output("root logger at DEBUG", text)
    assert "rotation step done" in text, "the capture saw nothing: the test would be blind"
    values = {
        part
        for arn in arns
        for version in sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
        for part in secret_parts(sm_client.get_secret_value(SecretId=arn, VersionId=version)["SecretString"])
        if len(part) >= 8
    }
    values |= {postgres.server.superuser_password if postgres.server else "", redis_primary.admin_password}
    assert values
    leaked = sorted(len(value) for value in values if value and value in text)
    assert leaked == [], f"{len(leaked)} secret value(s) in DEBUG output"


# 5. Direct invocation ------------------------------------------------------------------------------------------


def test_only_the_secrets_own_rotation_function_may_rotate_it(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    template_handlers: dict[str, Callable[..., Any]],
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    arn = make_secret(unique_name("session-secret"), seed_value("session_secret"))
    token = emulator.begin(arn)
    event = {"Step": Step.CREATE.value, "SecretId": arn, "ClientRequestToken": token}
    handler = template_handlers["session_secret"]
    before = snapshot(sm_client, arn)
    other = lambda_arn("attacker-function")
    for context in (LambdaContext(other), None):
        with pytest.raises(NotRotationFunctionError) as excinfo:
            handler(event, context)
        assert "run only for Secrets Manager" in str(excinfo.value)
    assert snapshot(sm_client, arn) == before
    # The same function through an alias or version (a qualified RotationLambdaARN) is accepted.
    handler(event, LambdaContext(lambda_arn("session_secret") + ":live"))
    assert sm_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"]


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_a_chosen_pending_password_is_never_applied(
    postgres: PostgresTarget,
    redis_primary: RedisTarget,
    admin: psycopg.Connection[Any],
    place: tuple[str, int],
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    kind: str,
) -> None:
    """An invoker who can also write AWSPENDING: setSecret must not apply a password createSecret did not make."""
    if kind == "postgres":
        user, password = user_name(), secrets.token_urlsafe(18)
        create_role(admin, user, password)
        current = pg_secret("json", place, user, password, masterarn=postgres.master_arn)
        chosen = json.loads(current) | {"username": user + "_clone", "password": "x"}
    else:
        user, password = new_user(redis_primary)
        current = redis_secret("json", redis_primary, user, password, adminarn=redis_primary.admin_arn)
        chosen = json.loads(current) | {"password": "x"}
    arn = make_secret(unique_name(f"{kind}-url"), current, kind)
    token = emulator.begin(arn)
    sm_client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(chosen), VersionStages=["AWSPENDING"]
    )
    before = snapshot(sm_client, arn)
    with pytest.raises(PolicyError) as excinfo:
        emulator.invoke(arn, token, Step.SET)
    assert "createSecret did not make it" in str(excinfo.value)
    assert snapshot(sm_client, arn) == before
    if kind == "postgres":
        assert not _role_exists(admin, user + "_clone")
    else:
        assert len(_acl_passwords(redis_primary, user)) == 1  # still exactly its one password


# 6. Smaller hardening ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x7f"])
def test_line_separators_and_del_are_refused_in_user_names(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    separator: str,
) -> None:
    text = json.dumps({"host": "db.internal", "port": 5432, "username": f"app{separator}x", "password": "p" * 20})
    arn = make_secret(unique_name("database-url"), text, "postgres")
    error = expect_failure(sm_client, emulator, arn, Step.CREATE, SecretFormatError)
    assert "'username' is too long or contains control characters" in str(error)


@pytest.mark.parametrize("node", ["bad host:6379", "user@evil:6379", "evil/x:6379", "\u2028:6379"])
def test_redis_node_hosts_are_validated_like_the_main_host(
    redis_primary: RedisTarget,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    node: str,
) -> None:
    text = redis_secret("json", redis_primary, "app", "p" * 24, nodes=[node])
    arn = make_secret(unique_name("redis-url"), text, "redis")
    error = expect_failure(sm_client, emulator, arn, Step.CREATE, SecretFormatError)
    assert "node" in str(error)
