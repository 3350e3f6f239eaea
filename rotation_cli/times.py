"""How the commands write times: ISO-8601 UTC in JSON, short UTC in tables and messages."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["exact_time", "short_time", "when"]


def when(value: datetime | None) -> str | None:
    """ISO-8601 in UTC, as ``--json`` prints times (None stays None)."""
    return value.astimezone(UTC).isoformat() if value else None


def short_time(value: str | datetime | None) -> str:
    """``2026-11-23 16:50 UTC``, for a table cell; ``-`` when unknown."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def exact_time(value: str | datetime | None) -> str:
    """``2026-11-23 16:50:02 UTC``, for a message about a step; ``an unknown time`` when unknown."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "an unknown time"
