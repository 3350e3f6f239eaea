"""Keyed passwords (``ROTATION_PASSWORD_MAC_KEY_ARN``): with a KMS HMAC key, the function applies only passwords
it made, however well a staged one is shaped; and finishSecret promotes only what was verified.

The attack: a principal who may write AWSPENDING (``PutSecretValue``) and invoke the function stages a password
of its choosing, shaped to the generation policy, then invokes setSecret. Without the key the function can only
check the shape; with it, the password must be ``GenerateMac(key, arn, version, purpose)`` mapped onto the
policy, which only a holder of ``kms:GenerateMac`` on the key can compute. moto models HMAC keys and
``GenerateMac``, so these run the real KMS calls against the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from rotator.constants import Action, Stage, Step
from rotator.errors import PasswordKeyError, PolicyError, VerificationError
from rotator.generation import derive_password, generate_password, meets_policy
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.redis.secret import RedisSecret
from rotator.settings import PasswordPolicy
from sandbox.harness import Targets, by_label
from sandbox.probes import postgres_logs_in, redis_logs_in
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import emulator_for, engine_for, snapshot, stage_value, version_with
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]
ATTACKED = [
    "postgres (alternating users)",
    "postgres (single user)",
    "redis (ACL user via admin)",
    "redis (ElastiCache RBAC user)",
]


@pytest.fixture(scope="module")
def mac_key(moto_server: Any) -> str:
    """A KMS HMAC key, as the template creates one (HMAC_256, GENERATE_VERIFY_MAC)."""
    kms = boto3.client("kms")
    return str(kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"])


def _logs_in(kind: str, text: str) -> bool:
    return postgres_logs_in(text) if kind == "postgres" else redis_logs_in(text)


def _with_password(kind: str, text: str, password: str, *, partner: bool = False) -> str:
    """``text`` with another password (and, ``partner``, the other user of the pair), as createSecret writes it."""
    if kind == "postgres":
        secret = PostgresSecret.parse(text)
        return secret.with_credentials(username=secret.username + "_clone" if partner else None, password=password)
    return RedisSecret.parse(text).with_password(password)


@pytest.mark.parametrize("label", ATTACKED)
def test_a_policy_shaped_password_staged_by_somebody_else_is_refused_with_the_key(
    label: str,
    mac_key: str,
    targets: Targets,
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    harness = by_label(label)
    arn = make_secret(unique_name(f"attack-{harness.kind}"), harness.seed(targets), harness.kind)
    emulator = emulator_for(engine_for(harness.kind, ROTATION_PASSWORD_MAC_KEY_ARN=mac_key))
    current = stage_value(sm_client, arn, Stage.CURRENT)
    token = emulator.begin(arn)  # an empty AWSPENDING version, as RotateSecret stages it
    chosen = generate_password(PasswordPolicy())  # shaped exactly as the function's own passwords are
    register_secret(chosen)
    assert meets_policy(chosen, PasswordPolicy())
    staged = _with_password(harness.kind, current, chosen, partner="alternating" in label)
    sm_client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=staged,
                               VersionStages=["AWSPENDING"])  # fmt: skip
    before = snapshot(sm_client, arn)

    with pytest.raises(PolicyError, match="was not made with the password key"):
        emulator.invoke(arn, token, Step.SET)

    assert snapshot(sm_client, arn) == before
    assert not _logs_in(harness.kind, staged), "the chosen password reached the target"
    assert _logs_in(harness.kind, current), "AWSCURRENT stopped working"


@pytest.mark.parametrize("label", ATTACKED)
def test_with_the_key_rotations_work_and_the_password_is_the_keyed_one(
    label: str,
    mac_key: str,
    targets: Targets,
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    harness = by_label(label)
    arn = make_secret(unique_name(f"keyed-{harness.kind}"), harness.seed(targets), harness.kind)
    emulator = emulator_for(engine_for(harness.kind, ROTATION_PASSWORD_MAC_KEY_ARN=mac_key))
    for _ in range(2):
        result = emulator.rotate(arn)
        assert result.ok, result.error
        current = stage_value(sm_client, arn, Stage.CURRENT)
        assert _logs_in(harness.kind, current)
        secret = PostgresSecret.parse(current) if harness.kind == "postgres" else RedisSecret.parse(current)
        message = "\n".join((arn, result.token, "password")).encode()
        mac = boto3.client("kms").generate_mac(KeyId=mac_key, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
        assert secret.password == derive_password(mac, PasswordPolicy())
    steps = {line["step"]: line["calls"] for line in log_lines() if line.get("message") == "rotation step done"}
    kms = {step: sum(1 for call in calls if call["service"] == "kms") for step, calls in steps.items()}
    assert kms == {"createSecret": 1, "setSecret": 1, "testSecret": 0, "finishSecret": 0}


def test_derived_passwords_follow_the_policy_and_depend_on_every_part_of_the_seed() -> None:
    policy = PasswordPolicy(length=40, exclude_characters="\"'\\/@:")
    passwords = {derive_password(seed.to_bytes(32, "big"), policy) for seed in range(200)}
    assert len(passwords) == 200
    assert all(meets_policy(password, policy) and len(password) == 40 for password in passwords)
    assert derive_password(b"x" * 32, policy) == derive_password(b"x" * 32, policy)
    tight = PasswordPolicy(
        length=16, exclude_characters="".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
    )
    assert all(meets_policy(derive_password(bytes([n]) * 32, tight), tight) for n in range(50))


def test_a_key_that_cannot_make_macs_is_a_typed_error_and_changes_nothing(
    targets: Targets, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    encrypting = boto3.client("kms").create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    harness = by_label("postgres (single user)")
    arn = make_secret(unique_name("wrong-key"), harness.seed(targets), "postgres")
    emulator = emulator_for(engine_for("postgres", ROTATION_PASSWORD_MAC_KEY_ARN=encrypting))
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    with pytest.raises(PasswordKeyError, match=r"GenerateMac with .* failed: InvalidKeyUsageException"):
        emulator.invoke(arn, token, Step.CREATE)
    assert snapshot(sm_client, arn) == before


def test_revoke_previous_keeps_only_a_current_password_the_key_made(
    mac_key: str, targets: Targets, sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    """revokePrevious leaves AWSCURRENT's password the only one: with the key, only if the key made it."""
    harness = by_label("redis (ACL user via admin)")
    arn = make_secret(unique_name("keyed-revoke"), harness.seed(targets), "redis")
    assert emulator_for(engine_for("redis")).rotate(arn).ok  # before the key was configured: a random password
    handler = engine_for("redis", ROTATION_PASSWORD_MAC_KEY_ARN=mac_key)

    def revoke() -> Any:
        event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn,
                 "ClientRequestToken": version_with(sm_client, arn, Stage.CURRENT)}  # fmt: skip
        return handler(event, LambdaContext(lambda_arn("redis")))

    before = snapshot(sm_client, arn)
    with pytest.raises(PolicyError, match=r"AWSCURRENT password of version .* was not made with the password key"):
        revoke()
    assert snapshot(sm_client, arn) == before
    assert redis_logs_in(stage_value(sm_client, arn, Stage.PREVIOUS)), "the refused revoke changed the overlap"
    assert RotateSecretEmulator({lambda_arn("redis"): handler}).rotate(arn).ok  # the key makes AWSCURRENT
    assert revoke()["outcome"].endswith("accepts only the current password on every node")
    assert not redis_logs_in(stage_value(sm_client, arn, Stage.PREVIOUS))
    assert redis_logs_in(stage_value(sm_client, arn, Stage.CURRENT))


@pytest.fixture
def single_user(targets: Targets, make_secret: MakeSecret, unique_name: Callable[[str], str]) -> str:
    return make_secret(unique_name("out-of-order"), by_label("postgres (single user)").seed(targets), "postgres")


def test_finish_before_set_promotes_nothing(single_user: str, sm_client: Any, emulator: RotateSecretEmulator) -> None:
    """finishSecret invoked by hand right after createSecret: the target never saw the pending password."""
    current = stage_value(sm_client, single_user, Stage.CURRENT)
    token = emulator.begin(single_user)
    emulator.invoke(single_user, token, Step.CREATE)
    before = snapshot(sm_client, single_user)
    with pytest.raises(VerificationError):
        emulator.invoke(single_user, token, Step.FINISH)
    assert snapshot(sm_client, single_user) == before
    assert stage_value(sm_client, single_user, Stage.CURRENT) == current
    assert postgres_logs_in(current)


def test_finish_before_test_verifies_first_and_test_records_what_it_verified(
    single_user: str, sm_client: Any, emulator: RotateSecretEmulator
) -> None:
    token = emulator.begin(single_user)
    for step in (Step.CREATE, Step.SET):
        emulator.invoke(single_user, token, step)
    emulator.invoke(single_user, token, Step.FINISH)  # no testSecret: finishSecret verifies, then promotes
    assert version_with(sm_client, single_user, Stage.CURRENT) == token
    assert postgres_logs_in(stage_value(sm_client, single_user, Stage.CURRENT))
    following = emulator.rotate(single_user)  # the full protocol: testSecret labels the version it verified
    assert following.ok
    assert "VERIFIED" in sm_client.describe_secret(SecretId=single_user)["VersionIdsToStages"][following.token]
