"""Fault-injection matrix: every kind, every side effect of a rotation, crash right after it, re-drive.

After each scenario: the rotation converges when re-driven the way Secrets
Manager does (same token first, then a fresh RotateSecret); AWSCURRENT works
against the real target; AWSPREVIOUS is the old version; no AWSPENDING is left
on another version; nothing is lost (every keyring key is still there).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rotator.constants import Stage, Step
from rotator.keyring import Keyring
from rotator.staging import STAGED_LABEL
from sandbox.moto_server import Fault, MotoServer
from sandbox.probes import postgres_logs_in, redis_logs_in
from sandbox.rotate_secret import RotationInProgressError
from sandbox.seed import seed_postgres_role, seed_redis_user, seed_signing_key, seed_value
from tests.conftest import (
    KEYRING_BUCKET,
    PostgresTarget,
    RedisTarget,
    crash_once_after,
    emulator_for,
    engine_for,
    stage_value,
    version_with,
)
from tests.leak_canary import register_secret, secret_parts


@dataclass
class Case:
    """How to seed a secret of one kind and how to tell that a value works against its target."""

    kind: str
    seed: Callable[[], str]
    works: Callable[[str], bool]
    before_rotation: Callable[[Any, str], None] = lambda sm, arn: None
    env: dict[str, str] | None = None


SIDE_EFFECTS = ["pending stored", "target changed", "test passed", "stage moved"]
KINDS = ["session_secret", "postgres single user", "postgres alternating", "redis", "signing_key", "stripe"]


@pytest.fixture
def case(request: pytest.FixtureRequest, make_secret: Callable[..., str], unique_name: Callable[[str], str]) -> Case:
    kind = request.param
    if kind == "session_secret":
        return Case("session_secret", lambda: seed_value("session_secret"), lambda text: len(text) >= 43)
    if kind.startswith("postgres"):
        pg: PostgresTarget = request.getfixturevalue("postgres")
        role = f"fm_{secrets.token_hex(3)}"
        if kind == "postgres alternating":
            return Case(
                "postgres",
                lambda: seed_postgres_role(pg.superuser_url, role, masterarn=pg.master_arn),
                postgres_logs_in,
            )
        return Case("postgres", lambda: seed_postgres_role(pg.superuser_url, role), postgres_logs_in)
    if kind == "redis":
        target: RedisTarget = request.getfixturevalue("redis_primary")
        user = f"fm_{secrets.token_hex(3)}"
        return Case(
            "redis", lambda: seed_redis_user(target.host, target.port, target.admin_password, user), redis_logs_in
        )
    if kind == "signing_key":
        request.getfixturevalue("s3_client")
        keyring_key = f"fm-{secrets.token_hex(4)}/jwks.json"
        return Case(
            "signing_key", lambda: seed_signing_key("ES256"), lambda text: '"private_key"' in text,
            env={"ROTATION_KEYRING_KEY": keyring_key},
        )  # fmt: skip
    stripe_api = request.getfixturevalue("stripe_api")
    account = "acct_" + secrets.token_hex(4)

    def stripe_key() -> str:
        key = "sk_test_" + secrets.token_hex(16)
        stripe_api.add_key(key, account)
        register_secret(key)
        return key

    def stage_next(sm: Any, arn: str) -> None:
        sm.put_secret_value(SecretId=arn, SecretString=stripe_key(), VersionStages=[STAGED_LABEL])

    return Case("stripe", stripe_key, lambda text: text in stripe_api.state.keys, before_rotation=stage_next)


def _engine(case: Case, **env: str) -> Any:
    return engine_for(case.kind, **{**(case.env or {}), **env})


def _keyring_kids(s3_client: Any, case: Case) -> set[str]:
    key = (case.env or {}).get("ROTATION_KEYRING_KEY")
    if key is None:
        return set()
    body = s3_client.get_object(Bucket=KEYRING_BUCKET, Key=key)["Body"].read()
    return set(Keyring.from_json(body).keys)


@pytest.mark.parametrize("side_effect", SIDE_EFFECTS)
@pytest.mark.parametrize("case", KINDS, indirect=True)
def test_crash_after_each_side_effect_converges(
    case: Case,
    side_effect: str,
    sm_client: Any,
    s3_client: Any,
    moto_server: MotoServer,
    fault_free: None,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    arn = make_secret(unique_name(f"fm-{case.kind}"), case.seed(), case.kind)
    healthy = emulator_for(_engine(case))
    case.before_rotation(sm_client, arn)
    assert healthy.rotate(arn).ok  # a first rotation: the keyring and AWSPREVIOUS exist from here on
    kids_before = _keyring_kids(s3_client, case)
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    case.before_rotation(sm_client, arn)

    if side_effect in ("pending stored", "stage moved"):
        operation = "PutSecretValue" if side_effect == "pending stored" else "UpdateSecretVersionStage"
        moto_server.log.inject(Fault(operation, "fail_after", times=1))
        crashing = emulator_for(_engine(case, ROTATION_SM_MAX_ATTEMPTS="1"))
    else:
        method = {"target changed": "apply", "test passed": "verify"}[side_effect]
        crashing = emulator_for(crash_once_after(_engine(case), method))
    crashed = crashing.rotate(arn)
    expected_step = {"pending stored": Step.CREATE, "target changed": Step.SET, "test passed": Step.TEST,
                     "stage moved": Step.FINISH}[side_effect]  # fmt: skip
    assert crashed.failed_step is expected_step, crashed.error

    # Secrets Manager's own retry: same token, all four steps again.
    if healthy.stuck_pending(arn) is not None:
        assert healthy.retry(arn).ok
    stages = sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert Stage.CURRENT in stages[crashed.token]
    assert old_version is not None
    assert Stage.PREVIOUS in stages[old_version]
    assert [v for v, s in stages.items() if Stage.PENDING in s and Stage.CURRENT not in s] == []
    current = stage_value(sm_client, arn, Stage.CURRENT)
    register_secret(*secret_parts(current))
    assert case.works(current), "AWSCURRENT does not work against the target"
    assert kids_before <= _keyring_kids(s3_client, case), "a keyring key was lost"

    # Then a fresh RotateSecret works as usual.
    case.before_rotation(sm_client, arn)
    fresh = healthy.rotate(arn)
    assert fresh.ok, fresh.error
    assert case.works(stage_value(sm_client, arn, Stage.CURRENT))


@pytest.mark.parametrize("case", ["session_secret", "redis"], indirect=True)
def test_concurrent_rotations_one_is_refused_nothing_lost(
    case: Case, sm_client: Any, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name(f"race-{case.kind}"), case.seed(), case.kind)
    handler = _engine(case)
    real_generate = handler.strategy.generate
    second_attempt_done = threading.Event()

    def generate_after_the_second_attempt(request: Any) -> str:
        second_attempt_done.wait(timeout=30)  # the first rotation is in flight while the second one starts
        return str(real_generate(request))

    handler.strategy.generate = generate_after_the_second_attempt
    emulator = emulator_for(handler)
    old = stage_value(sm_client, arn, Stage.CURRENT)
    outcomes: list[Any] = []
    first = threading.Thread(target=lambda: outcomes.append(emulator.rotate(arn)))
    first.start()
    for _ in range(1000):
        if emulator.stuck_pending(arn) is not None:
            break
        time.sleep(0.01)
    try:
        with pytest.raises(RotationInProgressError):
            emulator.rotate(arn)
    finally:
        second_attempt_done.set()
        first.join(timeout=60)
    assert outcomes
    assert outcomes[0].ok, outcomes[0].error
    assert stage_value(sm_client, arn, Stage.PREVIOUS) == old
    assert case.works(stage_value(sm_client, arn, Stage.CURRENT))
    stages = sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert [v for v, s in stages.items() if Stage.PENDING in s and Stage.CURRENT not in s] == []
