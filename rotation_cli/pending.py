"""What an unfinished rotation is doing: still in progress, or stuck (and then which step failed, when and why).

Secrets Manager retries an unfinished rotation itself. Its own words: RotateSecret answers "A previous rotation
isn't complete. That rotation will be reattempted." (the sandbox's emulator answers the same), and a rotation's
``ClientRequestToken`` exists "to prevent the accidental creation of duplicate versions if there are failures and
retries during rotation" (API Reference, RotateSecret). AWS documents no number of attempts: this module assumes
``ATTEMPTS`` invocations of the function, each up to its timeout, and errs long (an operator who waits a little
longer loses nothing; one who unsticks a healthy rotation can lose a live AUTH token).

A rotation is *in progress* until it has outlived that retry window; it is *stuck* once it has, or once the last
step the function logged for it failed. ``unstick`` waits for the window to close and for the last step to be
older than one function timeout, unless the operator forces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rotation_cli.times import exact_time
from rotator.core.boundary import STEP_DONE, STEP_FAILED

__all__ = ["ATTEMPTS", "IN_PROGRESS", "STUCK", "PendingRotation", "last_step", "summary"]

# Invocations Secrets Manager makes of an unfinished rotation before leaving it (an assumption: see above).
ATTEMPTS = 5
IN_PROGRESS = "in progress"
STUCK = "stuck"


def last_step(lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest "step done" or "step failed" line of the function's log about one rotation, or None."""
    steps = [line for line in lines if line.get("message") in (STEP_DONE, STEP_FAILED)]
    return max(steps, key=lambda line: int(line.get("logged_at", 0)), default=None)


@dataclass(frozen=True)
class PendingRotation:
    """One unfinished rotation: the AWSPENDING version, when it began, the last step the function logged."""

    version: str
    started: datetime | None  # the version's CreatedDate; None when unknown (counts as "just now")
    function_timeout: float  # seconds (GetFunctionConfiguration; Lambda's 900 s maximum when unknown)
    step: dict[str, Any] | None = None  # last_step() of the function's log lines, when they could be read
    now: datetime | None = None

    @property
    def _now(self) -> datetime:
        return self.now or datetime.now(UTC)

    @property
    def retry_window_ends(self) -> datetime:
        """When Secrets Manager has stopped retrying (its attempts, each up to the function's timeout)."""
        return (self.started or self._now) + timedelta(seconds=self.function_timeout * ATTEMPTS)

    @property
    def step_at(self) -> datetime | None:
        if self.step is None or "logged_at" not in self.step:
            return None
        return datetime.fromtimestamp(int(self.step["logged_at"]) / 1000, UTC)

    @property
    def failed(self) -> bool:
        return self.step is not None and self.step.get("outcome") == "failed"

    @property
    def state(self) -> str:
        return STUCK if self.failed or self._now >= self.retry_window_ends else IN_PROGRESS

    def busy(self) -> str | None:
        """Why removing AWSPENDING now could race Secrets Manager (a step may run, or be retried), else None."""
        latest = self.step_at or self.started
        if latest is not None and self._now < latest + timedelta(seconds=self.function_timeout):
            timeout = f"{self.function_timeout:.0f} s"
            return f"its last step ran at {exact_time(latest)}, within the function's {timeout} timeout"
        if self._now < self.retry_window_ends:
            return f"Secrets Manager may retry it until about {exact_time(self.retry_window_ends)}"
        return None

    def describe(self) -> str:
        """One line for an operator: in progress, or STUCK with the failed step, when and why."""
        return summary(self.as_json())

    def as_json(self) -> dict[str, Any]:
        step = self.step or {}
        return {
            "version": self.version,
            "state": self.state,
            "started": self.started.isoformat() if self.started else None,
            "retry_window_ends": self.retry_window_ends.isoformat(),
            "last_step": step.get("step"),
            "last_step_at": self.step_at.isoformat() if self.step_at else None,
            "last_step_outcome": step.get("outcome"),
            "error_type": step.get("error_type"),
            "error": step.get("error"),
        }


def summary(pending: dict[str, Any]) -> str:
    """``PendingRotation.as_json()`` in one line (``rotation status`` prints it from the JSON it emits)."""
    started = exact_time(pending["started"])
    if pending["state"] == IN_PROGRESS:
        done = f"; {pending['last_step']} done" if pending["last_step"] else ""
        return f"in progress since {started}{done}"
    if pending["last_step_outcome"] == "failed":
        return (
            f"STUCK: {pending['last_step']} failed at {exact_time(pending['last_step_at'])}: "
            f"{pending['error_type']}: {pending['error']}"
        )
    return f"STUCK: no step finished since {started}; Secrets Manager has stopped retrying"
