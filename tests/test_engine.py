"""The protocol engine against the moto server, driven exactly as Secrets Manager drives it.

session_secret is the kind under test here: it has no target, so every
observation is about the protocol itself.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from rotator.constants import Stage, Step
from rotator.core.strategy import GenerateRequest
from rotator.errors import (
    EventError,
    NotPendingError,
    RotationDisabledError,
    SecretFormatError,
    SecretsManagerError,
    UnexpectedError,
    UnknownVersionError,
)
from rotator.kinds.session_secret.kind import SessionSecretStrategy
from sandbox.moto_server import Fault, MotoServer
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, RotationInProgressError, lambda_arn
from tests.helpers import crash_once_after, emulator_for, engine_for, snapshot, stage_value, version_with
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]


def _key() -> str:
    return secrets.token_hex(32)


def _assert_converged(sm_client: Any, arn: str, new_version: str, old_version: str) -> None:
    stages = sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert Stage.CURRENT in stages[new_version]
    assert Stage.PREVIOUS in stages[old_version]
    pending = [v for v, s in stages.items() if Stage.PENDING in s]
    assert pending in ([], [new_version]), "AWSPENDING left on a version other than AWSCURRENT"


def test_full_rotation_promotes_pending_and_keeps_previous(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    old_value = stage_value(sm_client, arn, Stage.CURRENT)

    result = emulator.rotate(arn)

    assert result.ok, result.failed_step
    assert result.completed_steps == [Step.CREATE, Step.SET, Step.TEST, Step.FINISH]
    assert old_version is not None
    _assert_converged(sm_client, arn, result.token, old_version)
    new_value = stage_value(sm_client, arn, Stage.CURRENT)
    assert new_value != old_value
    assert stage_value(sm_client, arn, Stage.PREVIOUS) == old_value


def test_five_rotations_in_a_row_each_keep_the_last_as_previous(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    seen = {stage_value(sm_client, arn, Stage.CURRENT)}
    for _ in range(5):
        before = version_with(sm_client, arn, Stage.CURRENT)
        result = emulator.rotate(arn)
        assert result.ok
        assert before is not None
        _assert_converged(sm_client, arn, result.token, before)
        seen.add(stage_value(sm_client, arn, Stage.CURRENT))
    assert len(seen) == 6


def test_each_step_run_twice_is_a_no_op_the_second_time(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    token = emulator.begin(arn)
    for step in (Step.CREATE, Step.SET, Step.TEST, Step.FINISH):
        emulator.invoke(arn, token, step)
        after_first = snapshot(sm_client, arn)
        emulator.invoke(arn, token, step)
        assert snapshot(sm_client, arn) == after_first, f"second {step} changed the secret"
    assert version_with(sm_client, arn, Stage.CURRENT) == token


@pytest.mark.parametrize("step", [Step.TEST, Step.FINISH])
def test_a_step_run_twice_at_once_succeeds_both_times(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], step: Step
) -> None:
    """Secrets Manager reattempting a rotation still in flight: two invocations of one step both read the secret
    before either moved its label. The second finds the label already moved to its version: done, not failed."""
    handler = engine_for("session_secret")
    emulator = emulator_for(handler)
    arn = make_secret(unique_name("session-secret"), _key())
    emulator.enable_rotation(arn, "session_secret")
    assert emulator.rotate(arn).ok  # VERIFIED now sits on AWSCURRENT: the next testSecret moves it from there
    token = emulator.begin(arn)
    for earlier in Step:
        if earlier is step:
            break
        emulator.invoke(arn, token, earlier)
    seen_before = handler.sm.describe(arn)  # what the second invocation read, before the first one's move
    emulator.invoke(arn, token, step)
    describe = handler.sm.describe
    answers = iter([seen_before])
    handler.sm.describe = lambda secret_id: next(answers, None) or describe(secret_id)
    emulator.invoke(arn, token, step)  # raised InvalidParameterException ("Version stage … not found in version …")
    label = "VERIFIED" if step is Step.TEST else Stage.CURRENT
    assert label in sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"][token]


def test_token_already_current_returns_after_one_describe(
    sm_client: Any,
    moto_server: MotoServer,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    result = emulator.rotate(arn)
    before = snapshot(sm_client, arn)
    calls_before = sum(moto_server.log.calls.values())
    for step in Step:
        emulator.invoke(arn, result.token, step)
    assert sum(moto_server.log.calls.values()) - calls_before == 4  # one DescribeSecret per step
    assert snapshot(sm_client, arn) == before


def test_rotation_uses_at_most_ten_secrets_manager_calls(
    moto_server: MotoServer, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    before = moto_server.log.calls.copy()
    assert emulator.rotate(arn).ok
    used = moto_server.log.calls - before
    assert sum(used.values()) <= 10, dict(used)
    assert used["DescribeSecret"] == 4
    assert used["PutSecretValue"] == 1
    assert used["UpdateSecretVersionStage"] == 2  # testSecret's VERIFIED label, finishSecret's AWSCURRENT


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({}, "lacks the key 'Step'"),
        ({"Step": "createSecret", "SecretId": "x"}, "lacks the key 'ClientRequestToken'"),
        ({"Step": "rotateSecret", "SecretId": "x", "ClientRequestToken": str(uuid.uuid4())}, "'Step' is not one of"),
        ({"Step": 1, "SecretId": "x", "ClientRequestToken": str(uuid.uuid4())}, "'Step' must be a non-empty string"),
        ({"Step": "setSecret", "SecretId": ["x"], "ClientRequestToken": str(uuid.uuid4())}, "'SecretId' must be"),
        ({"Step": "setSecret", "SecretId": "x", "ClientRequestToken": "short"}, "'ClientRequestToken' must be"),
        ({"Step": "setSecret", "SecretId": "x\n", "ClientRequestToken": str(uuid.uuid4())}, "control characters"),
        (
            {"Step": "setSecret", "SecretId": "x", "ClientRequestToken": str(uuid.uuid4()), "RotationToken": 5},
            "'RotationToken' must be",
        ),
        (["Step", "createSecret"], "must be a JSON object"),
        (None, "must be a JSON object"),
    ],
)
def test_malformed_events_are_refused_before_any_call(
    moto_server: MotoServer, template_handlers: dict[str, Any], event: Any, problem: str
) -> None:
    calls_before = sum(moto_server.log.calls.values())
    with pytest.raises(EventError, match=problem):
        template_handlers["session_secret"](event, None)
    assert sum(moto_server.log.calls.values()) == calls_before


def test_rotation_disabled_is_refused_and_changes_nothing(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    token = emulator.begin(arn)
    emulator.disable_rotation(arn)
    before = snapshot(sm_client, arn)
    for step in Step:
        with pytest.raises(RotationDisabledError, match="rotation is not enabled"):
            emulator.invoke(arn, token, step)
    assert snapshot(sm_client, arn) == before


def test_unknown_token_is_refused(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    before = snapshot(sm_client, arn)
    stranger = str(uuid.uuid4())
    with pytest.raises(UnknownVersionError, match=stranger):
        emulator.invoke(arn, stranger, Step.CREATE)
    assert snapshot(sm_client, arn) == before


def test_token_that_is_not_pending_is_refused(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), _key())
    first = version_with(sm_client, arn, Stage.CURRENT)
    assert emulator.rotate(arn).ok
    assert first is not None
    before = snapshot(sm_client, arn)
    for step in Step:
        with pytest.raises(NotPendingError, match="is not AWSPENDING"):
            emulator.invoke(arn, first, step)  # now AWSPREVIOUS
    assert snapshot(sm_client, arn) == before


def test_pending_left_by_a_crashed_rotation_blocks_new_ones_until_retried(
    sm_client: Any,
    moto_server: MotoServer,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    fault_free: None,
) -> None:
    emulator = emulator_for(engine_for("session_secret", ROTATION_SM_MAX_ATTEMPTS="1"))
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    moto_server.log.inject(Fault("UpdateSecretVersionStage", "throttle", times=1, skip=1))  # after VERIFIED
    crashed = emulator.rotate(arn)
    assert crashed.failed_step is Step.FINISH
    assert isinstance(crashed.error, SecretsManagerError)
    assert version_with(sm_client, arn, Stage.CURRENT) == old_version

    with pytest.raises(RotationInProgressError):
        emulator.rotate(arn)
    other = str(uuid.uuid4())
    with pytest.raises(UnknownVersionError):
        emulator.invoke(arn, other, Step.CREATE)

    retried = emulator.retry(arn)
    assert retried.ok
    assert retried.token == crashed.token
    assert old_version is not None
    _assert_converged(sm_client, arn, crashed.token, old_version)


@pytest.mark.parametrize("bad_value", ["not a key at all!", '{"current": 5}', '{"previous": []}', '{"current": "x"'])
def test_value_not_in_the_kinds_format_fails_create_and_changes_nothing(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    bad_value: str,
) -> None:
    arn = make_secret(unique_name("session-secret"), bad_value)
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    with pytest.raises(SecretFormatError) as excinfo:
        emulator.invoke(arn, token, Step.CREATE)
    assert bad_value not in str(excinfo.value)
    assert snapshot(sm_client, arn) == before


@pytest.mark.parametrize(
    "operation", ["DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"]
)
def test_throttling_is_retried_and_the_rotation_converges(
    sm_client: Any,
    moto_server: MotoServer,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    fault_free: None,
    operation: str,
) -> None:
    emulator = emulator_for(engine_for("session_secret"))
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    moto_server.log.inject(Fault(operation, "throttle", times=2))
    result = emulator.rotate(arn)
    assert result.ok, result.error
    assert old_version is not None
    _assert_converged(sm_client, arn, result.token, old_version)


def test_read_timeouts_are_retried(
    sm_client: Any,
    moto_server: MotoServer,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    fault_free: None,
) -> None:
    emulator = emulator_for(engine_for("session_secret", ROTATION_SM_READ_TIMEOUT="0.5"))
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    moto_server.log.inject(Fault("GetSecretValue", "delay", times=1, delay=1.5))
    moto_server.log.inject(Fault("DescribeSecret", "delay", times=1, delay=1.5))
    result = emulator.rotate(arn)
    assert result.ok, result.error
    assert old_version is not None
    _assert_converged(sm_client, arn, result.token, old_version)


def test_throttling_that_outlasts_the_retries_fails_cleanly(
    sm_client: Any,
    moto_server: MotoServer,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    fault_free: None,
) -> None:
    emulator = emulator_for(engine_for("session_secret", ROTATION_SM_MAX_ATTEMPTS="2"))
    arn = make_secret(unique_name("session-secret"), _key())
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    moto_server.log.inject(Fault("DescribeSecret", "throttle", times=2))
    with pytest.raises(SecretsManagerError, match=r"DescribeSecret failed for .*: ThrottlingException"):
        emulator.invoke(arn, token, Step.CREATE)
    assert snapshot(sm_client, arn) == before


@pytest.mark.parametrize(
    ("operation", "skip", "failed_step"),
    [("PutSecretValue", 0, Step.CREATE), ("UpdateSecretVersionStage", 0, Step.TEST),
     ("UpdateSecretVersionStage", 1, Step.FINISH)],
)  # fmt: skip
def test_crash_right_after_a_side_effect_converges_on_rerun(
    sm_client: Any,
    moto_server: MotoServer,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    fault_free: None,
    operation: str,
    skip: int,
    failed_step: Step,
) -> None:
    emulator = emulator_for(engine_for("session_secret", ROTATION_SM_MAX_ATTEMPTS="1"))
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    moto_server.log.inject(Fault(operation, "fail_after", times=1, skip=skip))
    crashed = emulator.rotate(arn)
    assert crashed.failed_step is failed_step
    stored = sm_client.get_secret_value(SecretId=arn, VersionId=crashed.token)["SecretString"]

    if emulator.stuck_pending(arn) is not None:
        assert emulator.retry(arn).ok
    assert old_version is not None
    _assert_converged(sm_client, arn, crashed.token, old_version)
    # The value stored before the crash is the one promoted: nothing was regenerated.
    assert stage_value(sm_client, arn, Stage.CURRENT) == stored
    follow_up = emulator.rotate(arn)
    assert follow_up.ok
    _assert_converged(sm_client, arn, follow_up.token, crashed.token)


def test_crash_after_test_passed_converges_on_rerun(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    emulator = emulator_for(crash_once_after(engine_for("session_secret"), "verify"))
    arn = make_secret(unique_name("session-secret"), _key())
    old_version = version_with(sm_client, arn, Stage.CURRENT)
    crashed = emulator.rotate(arn)
    assert crashed.failed_step is Step.TEST
    assert isinstance(crashed.error, UnexpectedError)
    assert emulator.retry(arn).ok
    assert old_version is not None
    _assert_converged(sm_client, arn, crashed.token, old_version)


class _LeakyStrategy(SessionSecretStrategy):
    """A buggy strategy whose exception quotes the secret it read."""

    def generate(self, request: GenerateRequest) -> str:
        raise ValueError(f"cannot rotate {request.current.key}")


def test_unexpected_errors_escape_with_their_type_only(
    sm_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    value = _key()
    engine = engine_for("session_secret")
    engine.kind.strategy = _LeakyStrategy(engine.kind.strategy.settings)
    emulator = emulator_for(engine)
    arn = make_secret(unique_name("session-secret"), value)
    result = emulator.rotate(arn)
    assert result.failed_step is Step.CREATE
    assert isinstance(result.error, UnexpectedError)
    assert str(result.error) == "unexpected ValueError"
    assert result.error.__cause__ is None
    assert result.error.__context__ is None  # the unredacted original is nowhere in the chain
    failures = [line for line in log_lines() if line.get("outcome") == "failed"]
    assert failures, "the failure was not logged"
    assert all(value not in str(line) for line in failures)
    assert "[redacted]" in failures[-1]["traceback"]


def test_every_invocation_logs_one_structured_line_and_never_the_rotation_token(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    name = unique_name("session-secret")
    arn = make_secret(name, _key())
    token = emulator.begin(arn)
    rotation_token = str(uuid.uuid4())
    register_secret(rotation_token)
    for step in Step:
        emulator.invoke(arn, token, step, rotation_token=rotation_token)
    boundary = [line for line in log_lines() if line["message"] == "rotation step done"]
    assert [line["step"] for line in boundary] == [step.value for step in Step]
    for line in boundary:
        assert line["secret"] == name
        assert line["token"] == token
        assert line["kind"] == "session_secret"
        assert line["duration_ms"] >= 0
    assert all(rotation_token not in str(line) for line in log_lines())
    # Lambda's request id and the cold-start flag on every line, each invocation's own (inject_lambda_context).
    lines = [line for line in log_lines() if "level" in line]
    assert lines
    assert all(isinstance(line["cold_start"], bool) and line["function_request_id"] for line in lines)
    assert len({line["function_request_id"] for line in boundary}) == len(Step)


def test_no_log_key_outlives_its_invocation(
    emulator: RotateSecretEmulator,
    template_handlers: dict[str, Callable[..., Any]],
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    """A warm container's next invocation logs nothing of the last one (Powertools' clear_state)."""
    from rotator.observability import logger

    first, second = (make_secret(unique_name(f"session-secret-{n}"), _key()) for n in (1, 2))
    assert emulator.rotate(first).ok
    assert logger.thread_safe_get_current_keys() == {}
    bad = {"Step": "createSecret", "SecretId": second, "ClientRequestToken": "x"}  # refused before any AWS call
    with pytest.raises(EventError):
        template_handlers["session_secret"](bad, LambdaContext(lambda_arn("session_secret")))
    failed = [line for line in log_lines() if line.get("message") == "rotation step failed"][-1]
    assert not {"secret", "token", "step"} & set(failed), "a key of the previous invocation was logged"
    assert logger.thread_safe_get_current_keys() == {}


def test_finish_never_promotes_a_version_without_a_value(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    """Secrets Manager never sends finishSecret first; a manual or stale invocation can."""
    arn = make_secret(unique_name("session-secret"), _key())
    token = emulator.begin(arn)  # an empty AWSPENDING version, as RotateSecret stages it
    before = snapshot(sm_client, arn)
    with pytest.raises(NotPendingError, match="holds no value: nothing to promote"):
        emulator.invoke(arn, token, Step.FINISH)
    assert snapshot(sm_client, arn) == before


def test_a_stored_version_is_never_changed_by_put_secret_value(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    """The emulator keeps Secrets Manager's rule (PutSecretValue.ClientRequestToken): the same value again is
    ignored, a different value for a version that holds one is refused, AWSPENDING included."""
    from botocore.exceptions import ClientError

    emulator = emulator_for(engine_for("session_secret"))
    arn = make_secret(unique_name("session-secret"), _key())
    emulator.enable_rotation(arn, "session_secret")
    token = emulator.begin(arn)  # an AWSPENDING version without a value, as RotateSecret stages it
    first, second = _key(), _key()
    register_secret(first)
    register_secret(second)
    put = {"SecretId": arn, "ClientRequestToken": token, "VersionStages": [Stage.PENDING]}
    sm_client.put_secret_value(SecretString=first, **put)
    sm_client.put_secret_value(SecretString=first, **put)  # the same value again: ignored
    with pytest.raises(ClientError) as refused:
        sm_client.put_secret_value(SecretString=second, **put)
    assert refused.value.response["Error"]["Code"] == "ResourceExistsException"
    assert sm_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"] == first
