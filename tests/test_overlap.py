"""The minimum overlap: nothing is revoked sooner than ``ROTATION_MIN_OVERLAP_SECONDS`` after the version that
replaced it became current (clients that cache the secret may hold the older value that long)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from rotator.constants import Action, Stage, Step
from rotator.consumers.promotion import CURRENT_SINCE_TAG
from rotator.errors import OverlapNotElapsedError
from sandbox.harness import Targets, by_label
from sandbox.rotate_secret import LambdaContext, lambda_arn
from tests.helpers import emulator_for, engine_for, expect_failure, snapshot, version_with
from tests.leak_canary import register_secret, secret_parts

OVERLAP = "2"  # seconds


def _seeded(targets: Targets, make_secret: Callable[..., str], name: str, label: str) -> str:
    harness = by_label(label)
    value = harness.seed(targets)
    register_secret(*secret_parts(value))
    return make_secret(name, value, harness.kind, rotation=False)


def _wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.1)


@pytest.mark.parametrize("label", ["redis (ACL user via admin)", "postgres (alternating users)"])
def test_the_next_rotation_keeps_previous_until_the_overlap_has_passed(
    targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str], fault_free: None,
    label: str,
) -> None:  # fmt: skip
    harness = by_label(label)
    arn = _seeded(targets, make_secret, unique_name("overlap"), label)
    emulator = emulator_for(engine_for(harness.kind, ROTATION_MIN_OVERLAP_SECONDS=OVERLAP))
    emulator.enable_rotation(arn, harness.kind)
    assert emulator.rotate(arn).ok  # nothing older to take away yet
    assert CURRENT_SINCE_TAG in {t["Key"] for t in targets.client.describe_secret(SecretId=arn).get("Tags", [])}
    held = targets.value(arn, Stage.PREVIOUS)
    error = expect_failure(targets.client, emulator, arn, Step.SET, OverlapNotElapsedError)
    assert "becomes possible at" in str(error)
    assert "ROTATION_MIN_OVERLAP_SECONDS=2" in str(error)
    assert harness.works(targets, held), "the cached credential was taken away inside the overlap"
    _wait_until(error.not_before)
    assert emulator.retry(arn).ok  # Secrets Manager's retry, after the overlap
    assert harness.works(targets, targets.value(arn, Stage.CURRENT))


def test_revoke_previous_waits_for_the_overlap(
    targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str], fault_free: None
) -> None:
    harness = by_label("redis (ACL user via admin)")
    arn = _seeded(targets, make_secret, unique_name("overlap-revoke"), harness.label)
    handler = engine_for("redis", ROTATION_MIN_OVERLAP_SECONDS=OVERLAP)
    emulator = emulator_for(handler)
    emulator.enable_rotation(arn, "redis")
    assert emulator.rotate(arn).ok
    previous = targets.value(arn, Stage.PREVIOUS)
    event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn,
             "ClientRequestToken": version_with(targets.client, arn, Stage.CURRENT)}  # fmt: skip
    before = snapshot(targets.client, arn)
    with pytest.raises(OverlapNotElapsedError) as refused:
        handler(event, LambdaContext(lambda_arn("redis")))
    assert snapshot(targets.client, arn) == before
    assert harness.works(targets, previous)
    _wait_until(refused.value.not_before)
    handler(event, LambdaContext(lambda_arn("redis")))
    assert not harness.works(targets, previous), "revoke-previous after the overlap did not revoke"


def test_a_value_promoted_without_a_record_counts_from_now(
    targets: Targets, sm_client: Any, make_secret: Callable[..., str], unique_name: Callable[[str], str],
    fault_free: None,
) -> None:  # fmt: skip
    """AWSCURRENT moved by hand (a rollback, a value put by an operator): when it became current is unknown, so the
    overlap counts from the first check (later than the truth: it errs towards keeping the older credential)."""
    harness = by_label("redis (ACL user via admin)")
    arn = _seeded(targets, make_secret, unique_name("overlap-unrecorded"), harness.label)
    emulator = emulator_for(engine_for("redis", ROTATION_MIN_OVERLAP_SECONDS="0"))
    emulator.enable_rotation(arn, "redis")
    assert emulator.rotate(arn).ok
    previous = version_with(sm_client, arn, Stage.PREVIOUS)
    current = version_with(sm_client, arn, Stage.CURRENT)
    # What `rotation rollback` does: AWSPENDING off the finished version, AWSCURRENT back to AWSPREVIOUS.
    sm_client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=current)
    sm_client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=previous,
                                          RemoveFromVersionId=current)  # fmt: skip
    waiting = emulator_for(engine_for("redis", ROTATION_MIN_OVERLAP_SECONDS="600"))
    waiting.enable_rotation(arn, "redis")
    started = datetime.now(UTC)
    error = expect_failure(sm_client, waiting, arn, Step.SET, OverlapNotElapsedError)
    assert (error.not_before - started).total_seconds() >= 599
