"""Fault-injection matrix: every kind and strategy of the harness, every side effect of a rotation, a crash
right after it, then a re-drive.

After each scenario: the rotation converges when re-driven the way Secrets
Manager does (same token first, then a fresh RotateSecret); AWSCURRENT works
against the real target; AWSPREVIOUS is the old version; no AWSPENDING is left
on another version; nothing is lost (every keyring key is still there).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from rotator.constants import Stage, Step
from rotator.core.strategy import ApplyRequest, SecretRef
from rotator.core.versions import VersionReader
from rotator.kinds.signing_key.keyring import Keyring
from rotator.observability import Redactor
from sandbox.harness import HARNESSES, KindHarness, Targets, by_label
from sandbox.moto_server import Fault, MotoServer
from sandbox.rotate_secret import RotationInProgressError
from tests.helpers import crash_once_after, emulator_for, engine_for, stage_value, version_with, wrap_path
from tests.leak_canary import register_secret, secret_parts

SIDE_EFFECTS = ["pending stored", "target changed", "test passed", "test recorded", "stage moved"]
LABELS = [harness.label for harness in HARNESSES]


def _keyring_kids(s3_client: Any, targets: Targets) -> set[str]:
    bucket, key = targets.keyring
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        return set()
    return set(Keyring.from_json(body).keys)


def _seed(harness: KindHarness, targets: Targets, make_secret: Callable[..., str], name: str) -> str:
    value = harness.seed(targets)
    register_secret(*secret_parts(value))
    return make_secret(name, value, harness.kind)


@pytest.mark.parametrize("label", LABELS)
def test_each_harness_entry_takes_the_path_it_names(
    label: str, targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    """The harness is the conformance suite of the paths: each entry's secret must take the path it names."""
    harness = by_label(label)
    handler = engine_for(harness.kind)
    description = handler.sm.describe(_seed(harness, targets, make_secret, unique_name(f"path-{harness.kind}")))
    token = description.version_with(Stage.CURRENT)
    versions = VersionReader(handler.sm, description, token, Redactor(), handler.kind.parse)
    path = handler.kind.path_for(ApplyRequest(SecretRef(description.arn, description.name, token), versions))
    assert type(path).__name__ == harness.path


@pytest.mark.parametrize("side_effect", SIDE_EFFECTS)
@pytest.mark.parametrize("label", LABELS)
def test_crash_after_each_side_effect_converges(
    label: str,
    side_effect: str,
    targets: Targets,
    sm_client: Any,
    s3_client: Any,
    moto_server: MotoServer,
    fault_free: None,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    harness = by_label(label)
    arn = _seed(harness, targets, make_secret, unique_name(f"fm-{harness.kind}"))
    healthy = emulator_for(engine_for(harness.kind))
    harness.before_rotation(targets, arn)
    assert healthy.rotate(arn).ok  # a first rotation: the keyring and AWSPREVIOUS exist from here on
    kids_before = _keyring_kids(s3_client, targets)
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    harness.before_rotation(targets, arn)

    if side_effect in ("pending stored", "test recorded", "stage moved"):
        # testSecret's VERIFIED label is the rotation's first UpdateSecretVersionStage, finishSecret's move the next.
        operation = "PutSecretValue" if side_effect == "pending stored" else "UpdateSecretVersionStage"
        skip = 1 if side_effect == "stage moved" else 0
        moto_server.log.inject(Fault(operation, "fail_after", times=1, skip=skip))
        crashing = emulator_for(engine_for(harness.kind, ROTATION_SM_MAX_ATTEMPTS="1"))
    else:
        method = {"target changed": "apply", "test passed": "verify"}[side_effect]
        crashing = emulator_for(crash_once_after(engine_for(harness.kind), method))
    crashed = crashing.rotate(arn)
    expected_step = {"pending stored": Step.CREATE, "target changed": Step.SET, "test passed": Step.TEST,
                     "test recorded": Step.TEST, "stage moved": Step.FINISH}[side_effect]  # fmt: skip
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
    assert harness.works(targets, current), "AWSCURRENT does not work against the target"
    assert kids_before <= _keyring_kids(s3_client, targets), "a keyring key was lost"

    # Then a fresh RotateSecret works as usual.
    harness.before_rotation(targets, arn)
    fresh = healthy.rotate(arn)
    assert fresh.ok, fresh.error
    assert harness.works(targets, stage_value(sm_client, arn, Stage.CURRENT))


@pytest.mark.parametrize("label", ["session_secret (key)", "redis (ACL user via admin)"])
def test_concurrent_rotations_one_is_refused_nothing_lost(
    label: str,
    targets: Targets,
    sm_client: Any,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    harness = by_label(label)
    arn = _seed(harness, targets, make_secret, unique_name(f"race-{harness.kind}"))
    second_attempt_done = threading.Event()

    def generate_after_the_second_attempt(real_generate: Callable[[Any], str], request: Any) -> str:
        second_attempt_done.wait(timeout=30)  # the first rotation is in flight while the second one starts
        return str(real_generate(request))

    handler = wrap_path(engine_for(harness.kind), "generate", generate_after_the_second_attempt)
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
    assert harness.works(targets, stage_value(sm_client, arn, Stage.CURRENT))
    stages = sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert [v for v, s in stages.items() if Stage.PENDING in s and Stage.CURRENT not in s] == []
