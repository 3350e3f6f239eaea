"""redis: overlapping ACL passwords on every node, persisted, against real redis-server processes."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from rotator.constants import Stage, Step
from rotator.errors import SecretFormatError, TargetRejectedError, TargetUnreachableError, VerificationError
from rotator.kinds.redis.secret import RedisSecret
from sandbox.certificates import make_tls
from sandbox.probes import redis_logs_in
from sandbox.redis_server import RedisServer
from sandbox.tls_proxy import TlsProxy
from tests.helpers import RedisTarget, emulator_for, engine_for, expect_failure, snapshot, stage_value
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]
APP_RULES = "on ~app:* &* -@all +@read +@write +@connection"  # no ACL command, not even WHOAMI


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


@pytest.fixture
def primary(redis_primary: RedisTarget) -> RedisTarget:
    return redis_primary


def _admin(server: RedisTarget) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, username="admin", password=server.admin_password)


def create_user(server: RedisTarget, name: str, password: str, rules: str = APP_RULES) -> None:
    register_secret(password)
    with _admin(server) as client:
        client.execute_command("ACL", "SETUSER", name, "reset", *rules.split(), _hash(password))


def new_user(server: RedisTarget, rules: str = APP_RULES) -> tuple[str, str]:
    """A fresh ACL user with ``rules`` and a random password."""
    user, password = f"app_{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    create_user(server, user, password, rules)
    return user, password


def secret_text(form: str, server: RedisTarget | tuple[str, int], user: str | None, password: str, **extra: Any) -> str:
    host, port = server if isinstance(server, tuple) else (server.host, server.port)
    if form == "url":
        scheme = "rediss" if extra.pop("tls", False) else "redis"
        return f"{scheme}://{quote(user or '', safe='')}:{quote(password, safe='')}@{host}:{port}/0"
    doc: dict[str, Any] = {"host": host, "port": port, "password": password, "ssl": False, "db": 0, "note": "kept"}
    if user is not None:
        doc["username"] = user
    doc.update(extra)
    return json.dumps(doc)


@pytest.fixture
def admin_arn(primary: RedisTarget) -> str:
    """The session's admin secret (allowed by ROTATION_REDIS_ADMIN_SECRET_ARNS)."""
    return primary.admin_arn


def _acl_rules(server: RedisTarget, user: str) -> list[str]:
    with _admin(server) as client:
        rules = client.execute_command("ACL", "LIST")
    line = next(r.decode() for r in rules if r.decode().startswith(f"user {user} "))
    return [part for part in line.split() if not part.startswith("#")]


@pytest.mark.parametrize("form", ["url", "json"])
@pytest.mark.parametrize("who", ["default", "named"])
def test_five_rotations_keep_current_and_previous_working(
    primary: RedisTarget,
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    admin_arn: str,
    form: str,
    who: str,
) -> None:
    password = secrets.token_urlsafe(18)
    if who == "default":
        user: str | None = None  # redis://:<pw>@host means the default user
        create_user(primary, "default", password, "on ~* &* +@all")
        handler = engine_for("redis")  # the default user holds the ACL permission itself
        extra: dict[str, Any] = {}
    else:
        user = f"app_{secrets.token_hex(3)}"
        create_user(primary, user, password)
        handler = (
            engine_for("redis", ROTATION_REDIS_ADMIN_SECRET_ARN=admin_arn) if form == "url" else engine_for("redis")
        )
        extra = {} if form == "url" else {"adminarn": admin_arn}
    rules_before = _acl_rules(primary, user or "default")
    arn = make_secret(unique_name("redis-url"), secret_text(form, primary, user, password, **extra), "redis")
    emulator = emulator_for(handler)
    history = [stage_value(sm_client, arn, Stage.CURRENT)]
    for _ in range(5):
        result = emulator.rotate(arn)
        assert result.ok, (result.failed_step, result.error)
        history.append(stage_value(sm_client, arn, Stage.CURRENT))
        assert redis_logs_in(history[-1])
        assert redis_logs_in(history[-2])  # AWSPREVIOUS: clients holding it keep working
        if len(history) > 2:
            assert not redis_logs_in(history[-3])  # two rotations old: gone
    assert _acl_rules(primary, user or "default") == rules_before  # keys, channels, commands untouched
    if form == "json":
        assert json.loads(history[-1])["note"] == "kept"
    if who == "default":
        create_user(primary, "default", primary.admin_password, "off")


def test_set_secret_sends_only_hashes(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    user, password = new_user(primary)
    material = make_tls()
    tap = TlsProxy((primary.host, primary.port), material.cert_pem, material.key_pem, protocol="plain").start()
    try:
        admin = make_secret(
            unique_name("redis-admin"),
            secret_text("url", (tap.host, tap.port), "admin", primary.admin_password),
            rotation=False,
        )
        text = secret_text("json", (tap.host, tap.port), user, password, adminarn=admin)
        arn = make_secret(unique_name("redis-url"), text, "redis")
        emulator = emulator_for(engine_for("redis", ROTATION_REDIS_ADMIN_SECRET_ARNS=admin))
        token = emulator.begin(arn)
        emulator.invoke(arn, token, Step.CREATE)
        emulator.invoke(arn, token, Step.SET)
        wire = bytes(tap.client_bytes)
        pending = RedisSecret.parse(sm_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
        assert b"SETUSER" in wire
        assert _hash(pending.password)[1:].encode() in wire
        assert pending.password.encode() not in wire, "the new password crossed the wire in clear during setSecret"
        # The current password is sent once, as the user's own AUTH proving the secret owns the user (TLS in
        # production), never as part of a change.
        login = f"AUTH\r\n${len(user)}\r\n{user}\r\n${len(password)}\r\n{password}\r\n".encode()
        assert wire.count(password.encode()) == wire.count(login) == 1
        emulator.invoke(arn, token, Step.TEST)
        emulator.invoke(arn, token, Step.FINISH)
        assert redis_logs_in(stage_value(sm_client, arn, Stage.CURRENT), node=(primary.host, primary.port))
    finally:
        tap.stop()


@pytest.mark.parametrize("acl_file", [True, False], ids=["acl-file", "config-file"])
def test_rotation_survives_a_restart(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], acl_file: bool
) -> None:
    password = secrets.token_urlsafe(18)
    register_secret(password)
    with RedisServer({"app": ("on ~* &* +@all", password)}, acl_file=acl_file) as server:
        arn = make_secret(
            unique_name("redis-url"), secret_text("url", (server.host, server.port), "app", password), "redis"
        )
        assert emulator_for(engine_for("redis")).rotate(arn).ok
        server.restart()
        assert redis_logs_in(stage_value(sm_client, arn, Stage.CURRENT))
        assert redis_logs_in(stage_value(sm_client, arn, Stage.PREVIOUS))


def test_every_node_is_updated_and_a_down_node_stops_the_rotation(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], admin_arn: str
) -> None:
    user, password = new_user(primary)
    replica = RedisServer(
        {"admin": ("on ~* &* +@all", primary.admin_password), user: (APP_RULES, password)},
        replica_of=(primary.host, primary.port, "admin", primary.admin_password),
    )
    with replica:
        node = f"{replica.host}:{replica.port}"
        text = secret_text("json", primary, user, password, adminarn=admin_arn, nodes=[node])
        arn = make_secret(unique_name("redis-url"), text, "redis")
        # The admin password goes to the admin secret's endpoints and the configured nodes only.
        emulator = emulator_for(engine_for("redis", ROTATION_REDIS_NODES=node))
        assert emulator.rotate(arn).ok
        current = stage_value(sm_client, arn, Stage.CURRENT)
        assert redis_logs_in(current)
        assert redis_logs_in(current, node=(replica.host, replica.port))
        replica.stop()
        before = snapshot(sm_client, arn)
        failed = emulator.rotate(arn)
        assert failed.failed_step is Step.SET
        assert isinstance(failed.error, TargetUnreachableError)
        assert node in str(failed.error)
        assert stage_value(sm_client, arn, Stage.CURRENT) == current  # nothing promoted
        assert snapshot(sm_client, arn)[failed.token][0] == ["AWSPENDING"]
        assert before[version_of(sm_client, arn)] is not None
        assert redis_logs_in(current)


def version_of(sm_client: Any, arn: str) -> str:
    for version, stages in sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            return str(version)
    raise AssertionError("no AWSCURRENT")


def test_managed_service_without_acl_names_the_refused_command(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    password = secrets.token_urlsafe(18)
    register_secret(password)
    with RedisServer({"app": ("on ~* &* +@all", password)}, extra_config=['rename-command ACL ""']) as server:
        arn = make_secret(
            unique_name("redis-url"), secret_text("url", (server.host, server.port), "app", password), "redis"
        )
        error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
        assert "refused ACL GETUSER: ERR (ElastiCache and MemoryDB forbid ACL commands" in str(error)
        assert "give the secret 'managed_by'" in str(error)


def test_unparsable_url_is_refused(sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]) -> None:
    arn = make_secret(unique_name("redis-url"), "redis://app:s3cr3t-v4lue@:6379/0", "redis")
    error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.CREATE, SecretFormatError)
    assert "s3cr3t" not in str(error)


def test_unknown_user_is_refused_not_created(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], admin_arn: str
) -> None:
    ghost = f"ghost_{secrets.token_hex(3)}"
    text = secret_text("json", primary, ghost, secrets.token_urlsafe(18), adminarn=admin_arn)
    arn = make_secret(unique_name("redis-url"), text, "redis")
    error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
    assert f"cannot prove the secret owns {ghost}" in str(error)  # no login as it: the admin is never used
    with _admin(primary) as client:
        assert client.execute_command("ACL", "GETUSER", ghost) is None


def test_wrong_current_and_previous_passwords_change_nothing(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    user, password = new_user(primary, "on ~* &* +@all")
    arn = make_secret(unique_name("redis-url"), secret_text("url", primary, user, secrets.token_urlsafe(18)), "redis")
    error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
    assert f"no known password of {user}" in str(error)
    assert redis_logs_in(secret_text("url", primary, user, password))


def test_acl_command_refused_names_the_command(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    user, password = new_user(primary)  # APP_RULES: no ACL SETUSER permission
    arn = make_secret(unique_name("redis-url"), secret_text("url", primary, user, password), "redis")
    error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
    assert "refused ACL GETUSER: NOPERM (the login lacks this permission" in str(error)
    assert redis_logs_in(secret_text("url", primary, user, password))


@pytest.fixture(scope="module")
def tls_redis(redis_primary: RedisTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsProxy, Path]]:
    material = make_tls()
    ca = tmp_path_factory.mktemp("redis-tls") / "ca.pem"
    ca.write_bytes(material.ca_pem)
    target = (redis_primary.host, redis_primary.port)
    proxy = TlsProxy(target, material.cert_pem, material.key_pem, protocol="direct").start()
    try:
        yield proxy, ca
    finally:
        proxy.stop()


def test_rediss_rotates_over_verified_tls(
    primary: RedisTarget,
    tls_redis: tuple[TlsProxy, Path],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    admin_arn: str,
) -> None:
    proxy, ca = tls_redis
    user, password = new_user(primary)
    text = secret_text("url", (proxy.host, proxy.port), user, password, tls=True)
    arn = make_secret(unique_name("redis-url"), text, "redis")
    tls_admin = make_secret(
        unique_name("redis-admin"),
        secret_text("url", (proxy.host, proxy.port), "admin", primary.admin_password, tls=True),
        rotation=False,
    )
    handler = engine_for("redis", ROTATION_REDIS_ADMIN_SECRET_ARN=tls_admin, ROTATION_REDIS_CA_BUNDLE=str(ca))
    assert emulator_for(handler).rotate(arn).ok
    current = stage_value(sm_client, arn, Stage.CURRENT)
    assert current.startswith("rediss://")
    assert redis_logs_in(current, ca=ca)


def test_tls_required_but_plain_url_given_fails_clearly(
    primary: RedisTarget,
    tls_redis: tuple[TlsProxy, Path],
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    proxy, _ = tls_redis
    user, password = new_user(primary, "on ~* &* +@all")
    arn = make_secret(unique_name("redis-url"), secret_text("url", (proxy.host, proxy.port), user, password), "redis")
    error = expect_failure(sm_client, emulator_for(engine_for("redis")), arn, Step.SET, TargetUnreachableError)
    assert "tls=off" in str(error)


def test_scratch_key_read_and_write_in_test_secret(
    primary: RedisTarget, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], admin_arn: str
) -> None:
    user, password = new_user(primary)  # APP_RULES allow keys app:*
    text = secret_text("json", primary, user, password, adminarn=admin_arn)
    arn = make_secret(unique_name("redis-url"), text, "redis")
    assert emulator_for(engine_for("redis", ROTATION_REDIS_TEST_KEY="app:rotation-probe")).rotate(arn).ok
    with _admin(primary) as client:
        assert client.exists("app:rotation-probe") == 0  # cleaned up

    forbidden = emulator_for(engine_for("redis", ROTATION_REDIS_TEST_KEY="other:rotation-probe"))
    error = expect_failure(sm_client, forbidden, arn, Step.TEST, VerificationError)
    assert "test commands failed" in str(error)
    assert "NOPERM" in str(error)
