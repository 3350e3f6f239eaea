"""When a secret's next rotation is due, and when that rotation's window closes (Secrets Manager's rules).

``RotationRules.Duration``: "The length of the rotation window in hours … If you don't specify a Duration, for a
ScheduleExpression in hours, the window automatically closes after one hour. For a ScheduleExpression in days,
the window automatically closes at the end of the UTC day" (Secrets Manager API, ``RotationRulesType``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from rotator.aws.secrets_manager import SecretDescription

__all__ = ["due", "needs_rotation", "window_closes"]

_HOURS = re.compile(r"(\d+)h")
_RATE_HOURS = re.compile(r"rate\(\s*\d+\s+hours?\s*\)")


def due(description: SecretDescription) -> datetime | None:
    """When the next rotation is due: ``NextRotationDate``, else the last rotation plus ``AutomaticallyAfterDays``."""
    if description.next_rotation is not None:
        return description.next_rotation
    days = description.rotation_rules.get("AutomaticallyAfterDays")
    if description.last_rotated is not None and days:
        return description.last_rotated + timedelta(days=int(days))
    return None


def window_closes(description: SecretDescription, starts: datetime) -> datetime:
    """When the rotation window that opens at ``starts`` closes (``Duration``, else Secrets Manager's default)."""
    rules = description.rotation_rules
    duration = _HOURS.fullmatch(str(rules.get("Duration") or ""))
    if duration is not None:
        return starts + timedelta(hours=int(duration[1]))
    if _RATE_HOURS.fullmatch(str(rules.get("ScheduleExpression") or "")):
        return starts + timedelta(hours=1)
    return datetime.combine(starts.astimezone(UTC).date() + timedelta(days=1), time(), UTC)


def needs_rotation(description: SecretDescription, now: datetime) -> str | None:
    """Why a secret with a rotation function has not rotated as it should (None: it has): rotation turned off
    (CancelRotateSecret: a deleted schedule too), or overdue (its window closed without a successful rotation).
    A secret rotated on demand (no schedule: a staged Stripe key) is never overdue."""
    if not description.rotation_enabled:
        return "rotation is off"
    next_due = due(description)
    if next_due is not None and now >= window_closes(description, next_due):
        return f"overdue: due {next_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC, its window has closed"
    return None
