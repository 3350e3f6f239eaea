"""``rotation status`` health: rotation off, overdue past its window, last attempt failed, stuck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rotation_cli.health import problems
from rotation_cli.pending import PendingRotation
from rotator.aws.schedule import due, window_closes
from rotator.aws.secrets_manager import SecretDescription

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def described(*, enabled: bool = True, rules: dict[str, Any] | None = None, last: datetime | None = None,
              next_rotation: datetime | None = None) -> SecretDescription:  # fmt: skip
    return SecretDescription(
        arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-AbCdEf",
        name="amply/prod/database-url", rotation_enabled=enabled, versions={"v1": ("AWSCURRENT",)},
        rotation_lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:rotation", rotation_rules=rules or {},
        last_rotated=last, next_rotation=next_rotation, tags={},
    )  # fmt: skip


def test_a_secret_rotated_on_schedule_is_healthy() -> None:
    description = described(rules={"ScheduleExpression": "rate(30 days)"}, last=NOW - timedelta(days=2),
                            next_rotation=NOW + timedelta(days=28))  # fmt: skip
    assert problems(description, None, None, NOW) == []


def test_rotation_off_needs_attention_and_rotation_on_demand_does_not() -> None:
    assert problems(described(enabled=False), None, None, NOW) == ["rotation is off"]
    assert problems(described(last=NOW - timedelta(days=400)), None, None, NOW) == []  # on demand: never due


@pytest.mark.parametrize(
    ("rules", "due_at", "closes"),
    [
        ({"ScheduleExpression": "rate(30 days)"}, NOW, datetime(2026, 12, 4, tzinfo=UTC)),  # end of the UTC day
        ({"ScheduleExpression": "rate(4 hours)"}, NOW, NOW + timedelta(hours=1)),  # an hours schedule: one hour
        ({"ScheduleExpression": "cron(0 12 * * ? *)", "Duration": "3h"}, NOW, NOW + timedelta(hours=3)),
    ],
)
def test_the_window_closes_as_secrets_manager_documents(rules: dict[str, Any], due_at: datetime,
                                                        closes: datetime) -> None:  # fmt: skip
    assert window_closes(described(rules=rules), due_at) == closes


def test_overdue_only_once_the_window_has_closed() -> None:
    description = described(rules={"ScheduleExpression": "rate(30 days)", "Duration": "2h"},
                            next_rotation=NOW - timedelta(hours=1))  # fmt: skip
    assert problems(description, None, None, NOW) == []  # still inside its window
    late = problems(description, None, None, NOW + timedelta(hours=1, seconds=1))
    assert late == ["overdue: due 2026-12-03 11:00 UTC, its window has closed"]


def test_due_falls_back_to_the_last_rotation_plus_its_days() -> None:
    description = described(rules={"AutomaticallyAfterDays": 30}, last=NOW - timedelta(days=31))
    assert due(description) == NOW - timedelta(days=1)
    assert problems(description, None, None, NOW)[0].startswith("overdue: due 2026-12-02 12:00 UTC")


def test_a_failed_attempt_and_a_stuck_rotation_are_named() -> None:
    failure = {"step": "setSecret", "at": NOW - timedelta(minutes=5), "error_type": "TargetUnreachableError"}
    scheduled = described(rules={"ScheduleExpression": "rate(30 days)"})
    assert problems(scheduled, None, failure, NOW) == [
        "last attempt failed: setSecret at 2026-12-03 11:55 UTC: TargetUnreachableError"
    ]
    stuck = PendingRotation("v2", NOW - timedelta(hours=2), 60.0, now=NOW)
    assert problems(scheduled, stuck, None, NOW) == [
        "STUCK: no step finished since 2026-12-03 10:00:00 UTC; Secrets Manager has stopped retrying"
    ]
    in_progress = PendingRotation("v2", NOW - timedelta(seconds=5), 60.0, now=NOW)
    assert problems(scheduled, in_progress, None, NOW) == []
