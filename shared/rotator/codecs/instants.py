"""Validity dates as secrets write them: ``2025-01-01`` or ISO-8601 timestamps, always UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from rotator.errors import SecretFormatError

__all__ = ["InstantStyle", "format_instant", "parse_instant"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class InstantStyle:
    """How an instant was written, so a new one can be written the same way."""

    date_only: bool
    zulu: bool = True


def parse_instant(text: object, *, field: str) -> tuple[datetime, InstantStyle]:
    """A timezone-aware UTC instant; a bare date means midnight UTC of that day."""
    if not isinstance(text, str):
        raise SecretFormatError(f"field {field!r} must be a date or timestamp string")
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), InstantStyle(date_only=True)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SecretFormatError(f"field {field!r} is not an ISO-8601 date or timestamp") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC), InstantStyle(date_only=False, zulu=text.endswith("Z"))


def format_instant(value: datetime, style: InstantStyle) -> str:
    """``value`` written in ``style`` (UTC)."""
    value = value.astimezone(UTC)
    if style.date_only:
        return value.date().isoformat()
    text = value.replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if style.zulu else text
