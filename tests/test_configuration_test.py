"""Secrets Manager's configuration test: RotateSecret with RotateImmediately=false (every RotationSchedule of the
template) stages a temporary AWSPENDING copy of AWSCURRENT and runs testSecret alone. Every kind and strategy
passes it against its real target, and nothing changes: no new version, no keyring write, no target change.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.harness import HARNESSES, Targets, by_label
from sandbox.moto_server import MotoServer
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
from sandbox.stripe_server import StripeServer
from tests.helpers import snapshot
from tests.leak_canary import register_secret, secret_parts


def _versions(sm_client: Any, arn: str) -> dict[str, Any]:
    return {key: value for key, value in snapshot(sm_client, arn).items() if key != "rotation"}


def _keyring(s3_client: Any, targets: Targets) -> bytes | None:
    bucket, key = targets.keyring
    try:
        return bytes(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3_client.exceptions.NoSuchKey:
        return None


@pytest.mark.parametrize("label", [harness.label for harness in HARNESSES])
def test_every_kind_passes_the_configuration_test_and_changes_nothing(
    label: str,
    targets: Targets,
    sm_client: Any,
    s3_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    harness = by_label(label)
    value = harness.seed(targets)
    register_secret(*secret_parts(value))
    arn = make_secret(unique_name(harness.kind), value, harness.kind, rotation=False)
    versions, keyring = _versions(sm_client, arn), _keyring(s3_client, targets)
    assert emulator.configure_rotation(arn, harness.kind, rotate_immediately=False) is None
    assert _versions(sm_client, arn) == versions, "the configuration test left a version or moved a label"
    assert _keyring(s3_client, targets) == keyring, "the configuration test wrote the keyring"
    assert sm_client.describe_secret(SecretId=arn)["RotationEnabled"]
    if harness.kind in ("postgres", "redis"):
        assert harness.works(targets, value), "the configuration test changed the target"


def test_an_automatic_webhook_roll_passes_the_configuration_test_without_making_an_endpoint(
    stripe_api: StripeServer,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: Callable[..., str],
) -> None:
    account = "acct_" + secrets.token_hex(4)
    api_key = "sk_test_" + secrets.token_hex(16)
    stripe_api.add_key(api_key, account)
    key_arn = make_secret(f"amply/staging/stripe-secret-key-{secrets.token_hex(3)}", api_key, "stripe")
    endpoint = stripe_api.add_endpoint(account, "https://api.example.test/stripe/webhook", ["charge.succeeded"])
    arn = make_secret(
        f"amply/staging/stripe-webhook-secret-{secrets.token_hex(3)}", endpoint["secret"], "stripe", rotation=False
    )
    sm_client.tag_resource(
        SecretId=arn,
        Tags=[{"Key": "stripe:webhook-endpoint", "Value": endpoint["id"]},
              {"Key": "stripe:api-key-secret", "Value": key_arn}],
    )  # fmt: skip
    endpoints = set(stripe_api.state.endpoints)
    versions = _versions(sm_client, arn)
    emulator.configure_rotation(arn, "stripe", rotate_immediately=False)
    assert set(stripe_api.state.endpoints) == endpoints
    assert _versions(sm_client, arn) == versions


def test_rotate_secret_over_the_api_runs_the_test_and_reports_a_failure(
    targets: Targets,
    moto_server: MotoServer,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    harness = by_label("postgres (single user)")
    good = make_secret(unique_name("database-url"), harness.seed(targets), "postgres", rotation=False)
    broken_text = harness.seed(targets).replace("sslmode=disable", "sslmode=disable&x=1")
    broken = make_secret(unique_name("database-url"), broken_text, "postgres", rotation=False)
    # The database user's password changes behind the secret's back: the test must fail.
    import psycopg

    from rotator.kinds.postgres.secret import PostgresSecret

    with psycopg.connect(targets.postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER ROLE "{PostgresSecret.parse(broken_text).username}" PASSWORD NULL')
    moto_server.log.rotate_secret = emulator.handle_api
    try:
        rules = {"ScheduleExpression": "rate(30 days)"}
        answer = sm_client.rotate_secret(
            SecretId=good, RotationLambdaARN=lambda_arn("postgres"), RotationRules=rules, RotateImmediately=False
        )
        assert "VersionId" not in answer  # nothing rotated
        with pytest.raises(sm_client.exceptions.InvalidRequestException, match="configuration test"):
            sm_client.rotate_secret(
                SecretId=broken, RotationLambdaARN=lambda_arn("postgres"), RotationRules=rules,
                RotateImmediately=False,
            )  # fmt: skip
    finally:
        moto_server.log.rotate_secret = None
    assert not sm_client.describe_secret(SecretId=broken).get("RotationEnabled")
    assert len(sm_client.describe_secret(SecretId=good)["VersionIdsToStages"]) == 1
