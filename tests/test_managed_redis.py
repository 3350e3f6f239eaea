"""ElastiCache and MemoryDB: passwords change through the services' APIs, against the sandbox's emulation of
them over real redis-servers (a ``modifying`` period, a replica, ACL and CONFIG refused to clients).

The AUTH-token rules are AWS's (ElastiCache guide, "Modifying the AUTH token on an existing cluster"):
ROTATE adds the new token and keeps the newest two, so a second ROTATE drops the oldest; SET takes the last
token and only when two are live, and leaves only it; tokens are 16 to 128 printable characters whose only
punctuation is ``!&#$^<>-``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rotator.constants import Action, Stage, Step
from rotator.errors import (
    ForbiddenTargetError,
    SecretFormatError,
    TargetBusyError,
    TargetRejectedError,
    VerificationError,
)
from rotator.kinds.redis.managed_target import ELASTICACHE, MEMORYDB, ManagedTarget
from rotator.kinds.redis.secret import RedisSecret
from sandbox.harness import MANAGED_ACCESS_STRING, Targets, by_label
from sandbox.managed_redis import ManagedRedis
from sandbox.moto_server import Fault, MotoServer
from sandbox.probes import redis_logs_in
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import emulator_for, engine_for, expect_failure, stage_value

USER = "redis (ElastiCache RBAC user)"
TOKEN = "redis (ElastiCache AUTH token)"
MEMORYDB_USER = "redis (MemoryDB user)"


@pytest.fixture
def managed(managed_redis: ManagedRedis, fault_free: None) -> Iterator[ManagedRedis]:
    """The session's emulated services, with no hold, refusal or stale replica left over."""
    yield managed_redis
    managed_redis.held.clear()
    managed_redis.refusals.clear()
    managed_redis.stale_replicas = False
    managed_redis.groups_settle_late = False


def _secret(targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str], label: str) -> str:
    return make_secret(unique_name("managed-redis"), by_label(label).seed(targets), "redis")


def _calls(managed: ManagedRedis, operation: str) -> int:
    return sum(1 for _, called, _ in managed.requests if called == operation)


def _user_id(targets: Targets, arn: str) -> str:
    """The ElastiCache user id named by a secret's ``user_arn``."""
    return str(json.loads(targets.value(arn, Stage.CURRENT))["user_arn"].rsplit(":", 1)[1])


def _works(targets: Targets, arn: str, stage: str, node: tuple[str, int] | None = None) -> bool:
    return redis_logs_in(targets.value(arn, stage), node=node)


def _assert_overlap(targets: Targets, arn: str) -> None:
    """AWSCURRENT and AWSPREVIOUS both log in (the overlap every managed path keeps)."""
    assert _works(targets, arn, Stage.CURRENT)
    assert _works(targets, arn, Stage.PREVIOUS)


def _revoke(targets: Targets, handler: Any, arn: str) -> None:
    """``rotation revoke-previous``: the revokePrevious action with AWSCURRENT's version."""
    stages = targets.client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next(version for version, labels in stages.items() if Stage.CURRENT in labels)
    handler({"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn, "ClientRequestToken": current},
            LambdaContext(lambda_arn("redis")))  # fmt: skip


# which path a secret takes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "master.app.abc123.use1.cache.amazonaws.com", "username": "app"}, ManagedTarget(ELASTICACHE, "app")),
        ({"host": "clustercfg.ledger.abc123.memorydb.eu-west-1.amazonaws.com", "username": "ledger"},
         ManagedTarget(MEMORYDB, "ledger")),
        ({"host": "redis.internal", "username": "app",
          "user_arn": "arn:aws:elasticache:eu-west-1:123456789012:user:app-user"},
         ManagedTarget(ELASTICACHE, "app-user", region="eu-west-1")),
        ({"host": "10.0.0.5", "username": "default", "managed_by": "elasticache", "replication_group_id": "sessions"},
         ManagedTarget(ELASTICACHE, None, "sessions")),
        ({"host": "10.0.0.5", "username": "app", "managed_by": "elasticache", "user_id": "app-user",
          "replication_group_id": "cache"}, ManagedTarget(ELASTICACHE, "app-user", "cache")),
        ({"host": "redis.internal", "username": "app"}, None),
    ],
    ids=["elasticache host", "memorydb host", "user_arn", "auth token", "user id and group", "self-managed"],
)  # fmt: skip
def test_the_secret_chooses_the_managed_path(fields: dict[str, str], expected: ManagedTarget | None) -> None:
    text = json.dumps({"port": 6379, "password": "p" * 20, **fields})
    assert RedisSecret.parse(text).managed == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "master.app.abc123.use1.cache.amazonaws.com", "managed_by": "memorydb"}, "different services"),
        ({"host": "master.app.abc123.use1.cache.amazonaws.com"}, "replication_group_id"),
        ({"host": "10.0.0.5", "managed_by": "valkey"}, "managed_by"),
        ({"host": "10.0.0.5", "user_arn": "arn:aws:iam::123456789012:user/app"}, "user_arn"),
        ({"host": "10.0.0.5", "replication_group_id": "cache"}, "neither its host"),
        ({"host": "10.0.0.5", "managed_by": "elasticache", "replication_group_id": "x y"}, "replication_group_id"),
    ],
    ids=["services disagree", "auth token without group", "unknown service", "not a user arn", "group, no service",
         "bad group id"],
)  # fmt: skip
def test_an_ambiguous_managed_secret_is_a_format_error(fields: dict[str, str], message: str) -> None:
    with pytest.raises(SecretFormatError, match=message):
        RedisSecret.parse(json.dumps({"port": 6379, "password": "p" * 20, **fields}))


def test_a_secret_without_managed_by_meets_the_refused_acl_commands(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    """The control: the managed servers really refuse ACL, so the managed path's success means it sent none."""
    value = json.loads(by_label(USER).seed(targets))
    for field in ("managed_by", "user_arn", "replication_group_id"):
        del value[field]
    arn = make_secret(unique_name("managed-redis"), json.dumps(value), "redis")
    error = expect_failure(targets.client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
    assert "ACL GETUSER" in str(error)
    assert "managed_by" in str(error)


# users -------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [USER, MEMORYDB_USER])
def test_a_user_keeps_two_passwords_its_access_string_and_both_endpoints(
    label: str,
    targets: Targets,
    managed: ManagedRedis,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    arn = _secret(targets, make_secret, unique_name, label)
    sent = len(managed.requests)
    result = emulator_for(engine_for("redis")).rotate(arn)
    assert result.ok, result.error
    for node in managed.nodes():  # the primary and the reader
        assert _works(targets, arn, Stage.CURRENT, node)
        assert _works(targets, arn, Stage.PREVIOUS, node)
    user = next(u for u in managed.users.values() if u.arn == json.loads(targets.value(arn, Stage.CURRENT))["user_arn"])
    assert (user.access_string, len(user.passwords), user.status) == (MANAGED_ACCESS_STRING, 2, "active")
    changes = [params for _, operation, params in managed.requests[sent:] if operation in ("ModifyUser", "UpdateUser")]
    assert len(changes) == 1
    assert "AccessString" not in changes[0]
    assert "AppendAccessString" not in changes[0]


@pytest.mark.parametrize(("label", "holder"), [(USER, "user group"), (MEMORYDB_USER, "ACL")])
def test_a_user_active_before_its_group_applied_the_change_is_still_modifying(
    label: str,
    holder: str,
    targets: Targets,
    managed: ManagedRedis,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    """The user is ``active`` again while the ElastiCache user group or MemoryDB ACL holding it still applies the
    change: setSecret waits for both, so testSecret's login with the pending password is accepted."""
    arn = _secret(targets, make_secret, unique_name, label)
    managed.groups_settle_late = True
    result = emulator_for(engine_for("redis")).rotate(arn)
    assert result.ok, result.error
    _assert_overlap(targets, arn)
    group = "sandbox-users" if label == USER else "sandbox-acl"
    managed.held.add(group)  # the group settles only when released
    stuck = emulator_for(engine_for("redis", ROTATION_REDIS_MANAGED_WAIT_SECONDS="1")).rotate(arn)
    assert isinstance(stuck.error, TargetBusyError)
    assert f"{holder} {group} is modifying" in str(stuck.error)
    managed.held.discard(group)


@pytest.mark.parametrize("label", [USER, MEMORYDB_USER])
def test_user_passwords_never_hold_what_the_services_refuse_whatever_the_exclusions(
    label: str,
    targets: Targets,
    managed: ManagedRedis,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    """``ROTATION_EXCLUDE_CHARACTERS`` set to exclude nothing: the user's passwords still leave out ``, " / @``."""
    arn = _secret(targets, make_secret, unique_name, label)
    emulator = emulator_for(engine_for("redis", ROTATION_EXCLUDE_CHARACTERS="", ROTATION_PASSWORD_LENGTH="64"))
    for _ in range(4):  # 256 characters of a 94-character alphabet: each of the four would show up
        result = emulator.rotate(arn)
        assert result.ok, result.error
        password = json.loads(targets.value(arn, Stage.CURRENT))["password"]
        assert not set(password) & set(',"/@')
    _assert_overlap(targets, arn)


def test_revoke_previous_leaves_the_user_one_password(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, USER)
    handler = engine_for("redis")
    assert emulator_for(handler).rotate(arn).ok
    _revoke(targets, handler, arn)
    assert _works(targets, arn, Stage.CURRENT)
    assert not _works(targets, arn, Stage.PREVIOUS)


def test_a_user_modifying_longer_than_the_wait_is_a_retryable_error(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, USER)
    user_id = _user_id(targets, arn)
    managed.held.add(user_id)
    emulator = emulator_for(engine_for("redis", ROTATION_REDIS_MANAGED_WAIT_SECONDS="1"))
    result = emulator.rotate(arn)
    assert result.failed_step is Step.SET
    assert isinstance(result.error, TargetBusyError)
    assert "still modifying after 1 s" in str(result.error)
    assert _works(targets, arn, Stage.CURRENT)  # nothing was promoted; the old password still works
    managed.held.discard(user_id)
    retried = emulator.retry(arn)
    assert retried.ok, retried.error
    _assert_overlap(targets, arn)


def test_a_refused_modify_user_changes_nothing(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, USER)
    managed.refusals["ModifyUser"] = "InvalidParameterValue"
    error = expect_failure(targets.client, emulator_for(engine_for("redis")), arn, Step.SET, TargetRejectedError)
    assert "ModifyUser" in str(error)
    assert "InvalidParameterValue" in str(error)
    assert _works(targets, arn, Stage.CURRENT)


def test_a_crash_after_modify_user_is_re_driven_to_the_same_two_passwords(
    targets: Targets,
    managed: ManagedRedis,
    moto_server: MotoServer,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    arn = _secret(targets, make_secret, unique_name, USER)
    emulator = emulator_for(engine_for("redis"))
    moto_server.log.inject(Fault("ModifyUser", "fail_after", times=1))  # applied, then the caller sees a 500
    user_id = _user_id(targets, arn)
    managed.held.add(user_id)  # still modifying when the SDK retries, however slow this machine is
    crashed = emulator.rotate(arn)
    managed.held.discard(user_id)
    assert crashed.failed_step is Step.SET, crashed.error
    assert isinstance(crashed.error, TargetBusyError)  # the SDK's retry met the user still modifying
    assert _works(targets, arn, Stage.CURRENT)
    retried = emulator.retry(arn)
    assert retried.ok, retried.error
    _assert_overlap(targets, arn)


def test_a_secret_cannot_take_over_another_user(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    victim = json.loads(by_label(USER).seed(targets))
    attacker = json.loads(by_label(USER).seed(targets))
    attacker["user_arn"] = victim["user_arn"]  # the attacker's own password, the victim's user
    arn = make_secret(unique_name("managed-redis"), json.dumps(attacker), "redis")
    sent = _calls(managed, "ModifyUser")
    expect_failure(targets.client, emulator_for(engine_for("redis")), arn, Step.SET, ForbiddenTargetError)
    assert _calls(managed, "ModifyUser") == sent
    assert redis_logs_in(json.dumps(victim))


def test_test_secret_logs_in_on_the_reader_endpoint_too(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, USER)
    managed.stale_replicas = True  # the new passwords reach the primary only
    emulator = emulator_for(engine_for("redis"))
    token = emulator.begin(arn)
    emulator.invoke(arn, token, Step.CREATE)
    emulator.invoke(arn, token, Step.SET)
    with pytest.raises(VerificationError, match=str(managed.nodes()[1][1])):
        emulator.invoke(arn, token, Step.TEST)


# AUTH tokens ---------------------------------------------------------------------------


def _token_group(targets: Targets, arn: str) -> Any:
    group_id = json.loads(targets.value(arn, Stage.CURRENT))["replication_group_id"]
    return targets.managed.groups[group_id]


def test_rotate_keeps_two_tokens_and_a_second_rotation_drops_the_oldest(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, TOKEN)
    first = targets.value(arn, Stage.CURRENT)
    emulator = emulator_for(engine_for("redis"))
    assert emulator.rotate(arn).ok
    group = _token_group(targets, arn)
    assert len(group.tokens) == 2
    _assert_overlap(targets, arn)
    for node in managed.nodes(group.servers):
        assert _works(targets, arn, Stage.CURRENT, node)
    assert emulator.rotate(arn).ok
    assert len(group.tokens) == 2
    _assert_overlap(targets, arn)
    assert not redis_logs_in(first)
    generated = json.loads(targets.value(arn, Stage.CURRENT))["password"]
    assert set(generated) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!&#$^<>-")


def test_revoke_previous_sets_the_current_token_once(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, TOKEN)
    handler = engine_for("redis")
    assert emulator_for(handler).rotate(arn).ok
    sets = _calls(managed, "ModifyReplicationGroup")
    _revoke(targets, handler, arn)
    assert _token_group(targets, arn).tokens == [json.loads(targets.value(arn, Stage.CURRENT))["password"]]
    assert not _works(targets, arn, Stage.PREVIOUS)
    _revoke(targets, handler, arn)  # idempotent: one token left, so no second SET
    assert _calls(managed, "ModifyReplicationGroup") == sets + 1
    assert emulator_for(handler).rotate(arn).ok  # and the next rotation ROTATEs from one token
    _assert_overlap(targets, arn)


def test_a_crash_after_rotate_is_never_rotated_again(
    targets: Targets,
    managed: ManagedRedis,
    moto_server: MotoServer,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    """A repeated ROTATE would drop AWSCURRENT's token (the older of two): the re-drive finds the pending one."""
    arn = _secret(targets, make_secret, unique_name, TOKEN)
    emulator = emulator_for(engine_for("redis"))
    assert emulator.rotate(arn).ok  # two tokens live from here: a blind second ROTATE would drop the current one
    moto_server.log.inject(Fault("ModifyReplicationGroup", "fail_after", times=1))
    before = _calls(managed, "ModifyReplicationGroup")
    crashed = emulator.rotate(arn)
    assert crashed.failed_step is Step.SET, crashed.error
    assert _calls(managed, "ModifyReplicationGroup") == before + 1  # no SDK retry of a ROTATE
    retried = emulator.retry(arn)
    assert retried.ok, retried.error
    assert _calls(managed, "ModifyReplicationGroup") == before + 1
    _assert_overlap(targets, arn)


def test_the_emulated_rules_refuse_what_elasticache_refuses(targets: Targets, managed: ManagedRedis) -> None:
    """The sandbox's ElastiCache holds to AWS's rules, so the rotation's success above means something."""
    import boto3

    client = boto3.client("elasticache")
    seed = json.loads(by_label(TOKEN).seed(targets))
    group = seed["replication_group_id"]

    def modify(token: str, strategy: str) -> None:
        client.modify_replication_group(ReplicationGroupId=group, AuthToken=token,
                                        AuthTokenUpdateStrategy=strategy, ApplyImmediately=True)  # fmt: skip

    with pytest.raises(client.exceptions.InvalidParameterValueException):
        modify("short-token", "ROTATE")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        modify("a-token-with-a-dot.in-it", "ROTATE")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        modify(seed["password"], "SET")  # one token only: SET needs two
    managed.held.add(group)  # keep it modifying however slow this machine is
    try:
        modify("Another-valid-token-0001", "ROTATE")
        with pytest.raises(client.exceptions.InvalidReplicationGroupStateFault):
            modify("Another-valid-token-0002", "ROTATE")  # still modifying
        status = client.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"][0]["Status"]
        assert status == "modifying"
    finally:
        managed.held.discard(group)


def test_a_stale_token_group_is_busy_not_broken(
    targets: Targets, managed: ManagedRedis, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = _secret(targets, make_secret, unique_name, TOKEN)
    managed.held.add(_token_group(targets, arn).group_id)
    emulator = emulator_for(engine_for("redis", ROTATION_REDIS_MANAGED_WAIT_SECONDS="0.5"))
    result = emulator.rotate(arn)
    assert isinstance(result.error, TargetBusyError), result.error
    assert _works(targets, arn, Stage.CURRENT)
    managed.held.clear()
    assert emulator.retry(arn).ok
    assert stage_value(targets.client, arn, Stage.CURRENT) != stage_value(targets.client, arn, Stage.PREVIOUS)


def test_the_full_rotation_through_the_template_handler(
    targets: Targets, managed: ManagedRedis, emulator: RotateSecretEmulator, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """The function template.yaml declares, loaded through its handler path, rotates all three paths."""
    for label in (USER, TOKEN, MEMORYDB_USER):
        arn = _secret(targets, make_secret, unique_name, label)
        result = emulator.rotate(arn)
        assert result.ok, (label, result.error)
        assert by_label(label).prove(targets, arn)
