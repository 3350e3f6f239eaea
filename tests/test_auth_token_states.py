"""ElastiCache AUTH tokens in the states operators and crashes leave behind: AWSCURRENT's token never dropped.

AWS's rules (ElastiCache User Guide, "Modifying the AUTH token on an existing cluster"; the sandbox enforces
them): at most two tokens; ``ROTATE`` adds one and, with two live, drops the **oldest**; ``SET`` names the token
last rotated and leaves only it. After ``rotation rollback`` AWSCURRENT's token is the older of the two, and after
``rotation unstick`` of a rotation that had rotated, an orphan token is the newer one: a blind ``ROTATE`` of the
next pending token would drop the token every client uses. After every step of the rotation that follows,
AWSCURRENT logs in on the primary and the reader endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rotator.constants import Action, Stage, Step
from sandbox.harness import Targets, by_label
from sandbox.managed_redis import ManagedRedis
from sandbox.probes import redis_logs_in
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import emulator_for, engine_for, version_with

TOKEN = "redis (ElastiCache AUTH token)"


@pytest.fixture
def managed(managed_redis: ManagedRedis, fault_free: None) -> Iterator[ManagedRedis]:
    yield managed_redis
    managed_redis.token_settles_late = False
    managed_redis.held.clear()


@pytest.fixture
def token_secret(targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str]) -> str:
    return make_secret(unique_name("auth-token"), by_label(TOKEN).seed(targets), "redis")


def _tokens(targets: Targets, managed: ManagedRedis, arn: str) -> list[str]:
    return list(managed.groups[json.loads(targets.value(arn, Stage.CURRENT))["replication_group_id"]].tokens)


def _current_logs_in_everywhere(targets: Targets, managed: ManagedRedis, arn: str) -> None:
    group = managed.groups[json.loads(targets.value(arn, Stage.CURRENT))["replication_group_id"]]
    for node in managed.nodes(group.servers):
        assert redis_logs_in(targets.value(arn, Stage.CURRENT), node=node), f"AWSCURRENT refused on {node}"


def _rotate_checking_every_step(
    targets: Targets, managed: ManagedRedis, emulator: RotateSecretEmulator, arn: str
) -> str:
    token = emulator.begin(arn)
    for step in Step:
        emulator.invoke(arn, token, step)
        _current_logs_in_everywhere(targets, managed, arn)
    assert version_with(targets.client, arn, Stage.CURRENT) == token
    return token


def _rollback(targets: Targets, arn: str) -> None:
    """``rotation rollback``: AWSPREVIOUS becomes AWSCURRENT again."""
    stages = targets.client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next(v for v, s in stages.items() if Stage.CURRENT in s)
    previous = next(v for v, s in stages.items() if Stage.PREVIOUS in s)
    if Stage.PENDING in stages[current]:
        targets.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=current)
    targets.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=previous,
                                               RemoveFromVersionId=current)  # fmt: skip


def _unstick(targets: Targets, arn: str, version: str) -> None:
    """``rotation unstick``: the unfinished rotation's AWSPENDING label removed."""
    targets.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version)


def _revoke(targets: Targets, handler: Any, arn: str) -> None:
    current = version_with(targets.client, arn, Stage.CURRENT)
    handler({"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn, "ClientRequestToken": current},
            LambdaContext(lambda_arn("redis")))  # fmt: skip


def test_rollback_then_rotate_never_drops_the_current_token(
    targets: Targets, managed: ManagedRedis, token_secret: str
) -> None:
    emulator = emulator_for(engine_for("redis"))
    assert emulator.rotate(token_secret).ok
    _rollback(targets, token_secret)
    older, newer = _tokens(targets, managed, token_secret)
    assert json.loads(targets.value(token_secret, Stage.CURRENT))["password"] == older  # the state to survive
    _rotate_checking_every_step(targets, managed, emulator, token_secret)
    assert redis_logs_in(targets.value(token_secret, Stage.PREVIOUS))  # the rolled-back-to token: still live
    assert newer not in _tokens(targets, managed, token_secret)  # what the rollback left behind is gone


def test_unstick_after_rotate_then_rotate_never_drops_the_current_token(
    targets: Targets, managed: ManagedRedis, token_secret: str
) -> None:
    emulator = emulator_for(engine_for("redis"))
    assert emulator.rotate(token_secret).ok
    abandoned = emulator.begin(token_secret)
    for step in (Step.CREATE, Step.SET):  # its ROTATE happened: its token is now the newer one
        emulator.invoke(token_secret, abandoned, step)
    orphan = json.loads(targets.client.get_secret_value(SecretId=token_secret, VersionId=abandoned)["SecretString"])
    _unstick(targets, token_secret, abandoned)
    assert _tokens(targets, managed, token_secret)[-1] == orphan["password"]
    _rotate_checking_every_step(targets, managed, emulator, token_secret)
    assert orphan["password"] not in _tokens(targets, managed, token_secret)  # the orphan no longer logs in
    assert len(_tokens(targets, managed, token_secret)) == 2


def test_a_rotation_abandoned_before_its_rotate_needs_no_repair(
    targets: Targets, managed: ManagedRedis, token_secret: str
) -> None:
    """An unstuck rotation that never rotated left no token: the next one ROTATEs at once (one call)."""
    emulator = emulator_for(engine_for("redis"))
    assert emulator.rotate(token_secret).ok
    abandoned = emulator.begin(token_secret)
    emulator.invoke(token_secret, abandoned, Step.CREATE)
    _unstick(targets, token_secret, abandoned)
    before = sum(1 for _, op, _ in managed.requests if op == "ModifyReplicationGroup")
    _rotate_checking_every_step(targets, managed, emulator, token_secret)
    assert sum(1 for _, op, _ in managed.requests if op == "ModifyReplicationGroup") == before + 1


@pytest.mark.parametrize("state", ["after a rotation", "after a rollback", "after an unstick"])
def test_revoke_previous_leaves_only_the_current_token_from_every_state(
    targets: Targets, managed: ManagedRedis, token_secret: str, state: str
) -> None:
    handler = engine_for("redis")
    emulator = emulator_for(handler)
    assert emulator.rotate(token_secret).ok
    if state == "after a rollback":
        _rollback(targets, token_secret)
    elif state == "after an unstick":
        abandoned = emulator.begin(token_secret)
        for step in (Step.CREATE, Step.SET):
            emulator.invoke(token_secret, abandoned, step)
        _unstick(targets, token_secret, abandoned)
    _revoke(targets, handler, token_secret)
    current = json.loads(targets.value(token_secret, Stage.CURRENT))["password"]
    assert _tokens(targets, managed, token_secret) == [current]
    _current_logs_in_everywhere(targets, managed, token_secret)
    _revoke(targets, handler, token_secret)  # idempotent
    assert _tokens(targets, managed, token_secret) == [current]


def test_a_group_available_before_its_token_change_applied_is_waited_for(
    targets: Targets, managed: ManagedRedis, token_secret: str
) -> None:
    """``Status`` says available while ``PendingModifiedValues.AuthTokenStatus`` still says ROTATING: the
    rotation reads both, so testSecret never meets a token that is not live yet."""
    managed.token_settles_late = True
    emulator = emulator_for(engine_for("redis"))
    for _ in range(2):
        _rotate_checking_every_step(targets, managed, emulator, token_secret)
        assert redis_logs_in(targets.value(token_secret, Stage.PREVIOUS))
