"""When an unfinished rotation counts as stuck, and when unstick may abandon it (``rotation_cli.pending``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rotation_cli.output import refused_status
from rotation_cli.pending import ATTEMPTS, IN_PROGRESS, STUCK, PendingRotation, last_step

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TIMEOUT = 60.0


def _line(step: str, outcome: str, at: datetime, **extra: str) -> dict[str, object]:
    message = "rotation step failed" if outcome == "failed" else "rotation step done"
    return {"message": message, "step": step, "outcome": outcome, "logged_at": int(at.timestamp() * 1000), **extra}


def _pending(after: timedelta, step: dict[str, object] | None = None) -> PendingRotation:
    return PendingRotation("v2", START, TIMEOUT, step, now=START + after)


@pytest.mark.parametrize(
    ("after", "state"),
    [
        (timedelta(milliseconds=300), IN_PROGRESS),
        (timedelta(seconds=TIMEOUT * ATTEMPTS - 1), IN_PROGRESS),
        (timedelta(seconds=TIMEOUT * ATTEMPTS), STUCK),
    ],
)
def test_a_rotation_is_in_progress_until_its_retry_window_closes(after: timedelta, state: str) -> None:
    assert _pending(after).state == state


def test_a_failed_last_step_is_stuck_with_step_time_and_error() -> None:
    failed = _line("setSecret", "failed", START + timedelta(seconds=2), error_type="TargetUnreachableError",
                   error="cannot connect to db.internal:5432")  # fmt: skip
    pending = _pending(timedelta(seconds=5), failed)
    assert pending.state == STUCK
    line = pending.describe()
    assert line.startswith("STUCK: setSecret failed at 2026-12-03 12:00:02 UTC: TargetUnreachableError")
    assert "db.internal:5432" in line
    assert pending.busy() is not None, "Secrets Manager may still retry it: unstick needs --force"


def test_unstick_may_go_ahead_only_after_the_window_and_a_quiet_timeout() -> None:
    assert "within the function's 60 s timeout" in (_pending(timedelta(seconds=10)).busy() or "")
    assert "may retry it until about 2026-12-03 12:05:00 UTC" in (_pending(timedelta(seconds=100)).busy() or "")
    late = _line("createSecret", "done", START + timedelta(seconds=TIMEOUT * ATTEMPTS + 10))
    assert _pending(timedelta(seconds=TIMEOUT * ATTEMPTS + 20), late).busy() is not None  # a step just ran
    assert _pending(timedelta(seconds=TIMEOUT * ATTEMPTS + 1)).busy() is None


def test_an_unknown_start_counts_as_now() -> None:
    pending = PendingRotation("v", None, TIMEOUT, None, now=START)
    assert pending.state == IN_PROGRESS
    assert pending.busy() is not None


def test_the_last_step_is_the_latest_logged() -> None:
    lines = [
        _line("createSecret", "done", START),
        {"message": "something else", "logged_at": int((START + timedelta(minutes=9)).timestamp() * 1000)},
        _line("setSecret", "failed", START + timedelta(seconds=3)),
        _line("setSecret", "done", START + timedelta(seconds=70)),
    ]
    assert last_step(lines) == lines[3]
    assert last_step([]) is None


@pytest.mark.parametrize(
    ("error_type", "status"),
    [("StaleConsumersError", 2), ("ConsumerCheckError", 2), ("OverlapNotElapsedError", 2), ("NotPendingError", 2),
     ("TargetUnreachableError", 1),
     ("UnexpectedError", 1), ("Sandbox.Timedout", 1)],
)  # fmt: skip
def test_the_function_s_refusals_exit_2_and_failures_1(error_type: str, status: int) -> None:
    assert refused_status(error_type) == status
