"""stripe: staged values proven against a local Stripe stand-in with the real client; webhook endpoint rolls."""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from rotator.constants import Stage, Step
from rotator.core.staging import STAGED_LABEL
from rotator.errors import SecretFormatError, StagingRequiredError, TargetUnreachableError, VerificationError
from rotator.kinds.stripe.webhooks import WebhookSignatureError, verify_event
from sandbox.moto_server import Fault, MotoServer
from sandbox.rotate_secret import RotateSecretEmulator
from sandbox.stripe_server import StripeServer
from tests.helpers import emulator_for, engine_for, snapshot, stage_value
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]


def new_key(mode: str = "test", prefix: str = "sk", account: str | None = None, server: StripeServer | None = None,
            permissions: set[str] | None = None) -> str:  # fmt: skip
    key = f"{prefix}_{mode}_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    register_secret(key)
    if server is not None and account is not None:
        server.add_key(key, account, permissions)
    return key


def stage(sm_client: Any, arn: str, value: str) -> None:
    register_secret(value)
    sm_client.put_secret_value(SecretId=arn, SecretString=value, VersionStages=[STAGED_LABEL])


def name_for(env: str, unique: Callable[[str], str]) -> str:
    return f"amply/{env}/stripe-secret-key-{unique('x').split('/')[1]}"


@pytest.fixture
def account() -> str:
    return "acct_" + secrets.token_hex(6)


def test_staged_key_is_proven_and_promoted(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str,
) -> None:  # fmt: skip
    old, new = new_key(account=account, server=stripe_api), new_key(account=account, server=stripe_api)
    arn = make_secret(name_for("staging", unique_name), old, "stripe")
    stage(sm_client, arn, new)
    result = emulator.rotate(arn)
    assert result.ok, result.error
    assert stage_value(sm_client, arn, Stage.CURRENT) == new
    assert stage_value(sm_client, arn, Stage.PREVIOUS) == old
    assert STAGED_LABEL not in _labels(sm_client, arn)  # used up


def test_staged_label_is_cleared_when_finish_is_redriven_after_a_crash(
    stripe_api: StripeServer, sm_client: Any, moto_server: MotoServer, fault_free: None, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str,
) -> None:  # fmt: skip
    arn = make_secret(name_for("staging", unique_name), new_key(account=account, server=stripe_api), "stripe")
    new = new_key(account=account, server=stripe_api)
    stage(sm_client, arn, new)
    # testSecret's VERIFIED label passes; then AWSCURRENT moves, then death.
    moto_server.log.inject(Fault("UpdateSecretVersionStage", "fail_after", times=1, skip=1))
    crashed = emulator_for(engine_for("stripe", ROTATION_SM_MAX_ATTEMPTS="1")).rotate(arn)
    assert crashed.failed_step is Step.FINISH
    assert stage_value(sm_client, arn, Stage.CURRENT) == new
    healthy = emulator_for(engine_for("stripe"))
    healthy.invoke(arn, crashed.token, Step.FINISH)  # Secrets Manager's retry of the failed step
    assert STAGED_LABEL not in _labels(sm_client, arn)
    newer = new_key(account=account, server=stripe_api)
    stage(sm_client, arn, newer)
    healthy.invoke(arn, crashed.token, Step.FINISH)  # a stale re-drive must not consume the next staged value
    assert STAGED_LABEL in _labels(sm_client, arn)
    assert healthy.rotate(arn).ok
    assert stage_value(sm_client, arn, Stage.CURRENT) == newer


def _labels(sm_client: Any, arn: str) -> list[str]:
    return [s for stages in sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"].values() for s in stages]


def test_nothing_staged_names_the_command_and_changes_nothing(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    name = name_for("staging", unique_name)
    arn = make_secret(name, new_key(), "stripe")
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    with pytest.raises(StagingRequiredError, match=f"rotation stage {name}"):
        emulator.invoke(arn, token, Step.CREATE)
    assert snapshot(sm_client, arn) == before


@pytest.mark.parametrize(
    ("env", "mode", "problem"),
    [("prod", "test", "a test-mode key is refused"), ("staging", "live", "a live-mode key is refused"),
     ("sandbox", "live", "a live-mode key is refused")],
)  # fmt: skip
def test_mode_must_match_the_environment(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str, env: str, mode: str, problem: str,
) -> None:  # fmt: skip
    right = "live" if env == "prod" else "test"
    arn = make_secret(name_for(env, unique_name), new_key(right, account=account, server=stripe_api), "stripe")
    stage(sm_client, arn, new_key(mode, account=account, server=stripe_api))
    result = emulator.rotate(arn)
    assert result.failed_step is Step.CREATE  # the staged-value check, as `rotation stage` runs it
    assert isinstance(result.error, VerificationError)
    assert problem in str(result.error)
    assert stage_value(sm_client, arn, Stage.CURRENT).startswith(f"sk_{right}_")


@pytest.mark.parametrize("case", ["other-account", "invalid-key", "restricted-without-balance"])
def test_pending_key_that_fails_stripe_checks_is_not_promoted(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str, case: str,
) -> None:  # fmt: skip
    old = new_key(account=account, server=stripe_api)
    if case == "other-account":
        pending, problem = new_key(account="acct_other", server=stripe_api), "another Stripe account"
    elif case == "invalid-key":
        pending, problem = new_key(), "Stripe refused the key during reading the account (HTTP 401)"
    else:
        old = new_key(prefix="rk", account=account, server=stripe_api)
        pending = new_key(prefix="rk", account=account, server=stripe_api, permissions={"account"})
        problem = "Stripe denied reading balance"
    arn = make_secret(name_for("staging", unique_name), old, "stripe")
    stage(sm_client, arn, pending)
    result = emulator.rotate(arn)
    assert result.failed_step is Step.CREATE  # the staged-value check, as `rotation stage` runs it
    assert problem in str(result.error)
    assert pending not in str(result.error)
    assert stage_value(sm_client, arn, Stage.CURRENT) == old


def test_restricted_key_with_the_expected_read_is_promoted(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str,
) -> None:  # fmt: skip
    perms = {"account", "balance"}
    old = new_key(prefix="rk", account=account, server=stripe_api, permissions=perms)
    arn = make_secret(name_for("staging", unique_name), old, "stripe")
    stage(sm_client, arn, new_key(prefix="rk", account=account, server=stripe_api, permissions=perms))
    assert emulator.rotate(arn).ok


def test_rate_limiting_is_retried_then_reported(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str,
) -> None:  # fmt: skip
    arn = make_secret(name_for("staging", unique_name), new_key(account=account, server=stripe_api), "stripe")
    stage(sm_client, arn, new_key(account=account, server=stripe_api))
    stripe_api.rate_limit(1)
    assert emulator.rotate(arn).ok  # one 429, retried by the client
    stage(sm_client, arn, new_key(account=account, server=stripe_api))
    stripe_api.rate_limit(50)
    try:
        result = emulator.rotate(arn)
    finally:
        stripe_api.rate_limit(0)
    assert result.failed_step is Step.CREATE  # the staged-value check, as `rotation stage` runs it
    assert isinstance(result.error, TargetUnreachableError)
    assert "rate-limited" in str(result.error)


@pytest.mark.parametrize("bad", ["", " sk_test_" + "a" * 20, "sk_test_abc def", "pk_test_" + "a" * 30, "sk_test_a"])
def test_malformed_staged_values_are_refused(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str],
    bad: str,
) -> None:  # fmt: skip
    arn = make_secret(name_for("staging", unique_name), new_key(), "stripe")
    if bad:
        stage(sm_client, arn, bad)
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    with pytest.raises((SecretFormatError, StagingRequiredError)):
        emulator.invoke(arn, token, Step.CREATE)
    assert snapshot(sm_client, arn) == before


def _signed(payload: str, secret: str) -> str:
    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


def test_webhook_endpoint_roll_is_automatic_and_consumers_accept_both_secrets(
    stripe_api: StripeServer, sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret,
    unique_name: Callable[[str], str], account: str,
) -> None:  # fmt: skip
    api_key_arn = make_secret(name_for("staging", unique_name), new_key(account=account, server=stripe_api), "stripe")
    endpoint = stripe_api.add_endpoint(account, "https://api.example.test/stripe/webhook", ["charge.succeeded"])
    name = f"amply/staging/stripe-webhook-secret-{secrets.token_hex(3)}"
    arn = make_secret(name, endpoint["secret"], "stripe")
    sm_client.tag_resource(
        SecretId=arn,
        Tags=[{"Key": "stripe:webhook-endpoint", "Value": endpoint["id"]},
              {"Key": "stripe:api-key-secret", "Value": api_key_arn}],
    )  # fmt: skip
    result = emulator.rotate(arn)
    assert result.ok, result.error
    current, previous = stage_value(sm_client, arn, Stage.CURRENT), stage_value(sm_client, arn, Stage.PREVIOUS)
    register_secret(current)
    assert current.startswith("whsec_")
    assert previous == endpoint["secret"]
    endpoints = [e for e in stripe_api.state.endpoints.values() if e["account"] == account]
    assert [e["id"] for e in endpoints] != [endpoint["id"]]
    assert len(endpoints) == 1  # the old endpoint was deleted after promotion
    assert endpoints[0]["url"] == endpoint["url"]
    assert endpoints[0]["enabled_events"] == endpoint["enabled_events"]
    assert endpoints[0]["secret"] == current
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "charge.succeeded", "data": {"object": {}}})
    for secret in (current, previous):  # events from either endpoint during the overlap
        event = verify_event(payload, _signed(payload, secret), [current, previous])
        assert event["id"] == "evt_1"
    with pytest.raises(WebhookSignatureError):
        verify_event(payload, _signed(payload, "whsec_" + "x" * 24), [current, previous])
    assert emulator.rotate(arn).ok  # a second roll replaces the endpoint made by the first
    assert len([e for e in stripe_api.state.endpoints.values() if e["account"] == account]) == 1
    register_secret(stage_value(sm_client, arn, Stage.CURRENT))
