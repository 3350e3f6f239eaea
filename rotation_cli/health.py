"""A secret's rotation health, for ``rotation status`` and its ``--check`` verdict.

A secret needs attention when its rotation is off, when it is **overdue** (its rotation window
closed without a successful rotation: ``rotator.aws.schedule``, the rule the template's freshness alarm uses too),
when its **last attempt failed** after the last success (the function's "rotation step failed" line), or when an
unfinished rotation is **stuck** (``rotation_cli.pending``). What AWS Config checks with three managed rules
(``secretsmanager-rotation-enabled-check``, ``secretsmanager-scheduled-rotation-success-check``,
``secretsmanager-secret-periodic-rotation``), in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rotation_cli.pending import STUCK, PendingRotation
from rotation_cli.times import short_time
from rotator.aws.schedule import needs_rotation
from rotator.aws.secrets_manager import SecretDescription

__all__ = ["ATTENTION", "OK", "problems"]

OK = "ok"
ATTENTION = "attention"


def problems(
    description: SecretDescription, pending: PendingRotation | None, last_failure: dict[str, Any] | None,
    now: datetime,
) -> list[str]:  # fmt: skip
    """What needs an operator's attention, one line each (empty: healthy)."""
    found: list[str] = []
    reason = needs_rotation(description, now)
    if reason is not None:
        found.append(reason)
    if last_failure is not None:
        step, at, error = last_failure["step"], short_time(last_failure["at"]), last_failure["error_type"]
        found.append(f"last attempt failed: {step} at {at}: {error}")
    if pending is not None and pending.state == STUCK:
        found.append(pending.describe())
    return found
