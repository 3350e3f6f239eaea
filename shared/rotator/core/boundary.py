"""What happens at the edge of every invocation, around the protocol: small pieces, each tested on its own.

* ``lambda_log_keys``: every log line of an invocation carries Lambda's request id and whether it is the
  container's cold start, and no key of an earlier invocation (Powertools' ``inject_lambda_context`` with
  ``clear_state=True``, per thread: the sandbox runs invocations concurrently in one process);
* ``InvocationScope``: the invocation's redactor, log keys and per-call timings, set for its duration and
  always removed;
* ``sanitise``: the only error that may leave, with known values redacted and no chain;
* ``record_step``: the step's metrics;
* ``invoked_function``: the function ARN Lambda's context names.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rotator.core.event import RotationEvent
from rotator.errors import RotationError, UnexpectedError
from rotator.observability import Redactor, logger, metrics, redacting_filter
from rotator.timings import calls, collecting

__all__ = [
    "LOG_KEYS", "STEP_DONE", "STEP_FAILED", "InvocationScope", "invoked_function", "lambda_log_keys", "record_step",
    "sanitise",
]  # fmt: skip

# The one line each invocation logs at its end (``rotation`` reads them from CloudWatch Logs to follow a rotation).
STEP_DONE = "rotation step done"
STEP_FAILED = "rotation step failed"

LOG_KEYS = ("secret", "step", "token", "kind")
_cold_start = [True]  # the first invocation in this execution environment


@contextmanager
def lambda_log_keys(context: Any) -> Iterator[None]:
    """For the invocation's duration, this thread's log keys are only ``function_request_id`` and
    ``cold_start`` (and what the invocation appends): nothing from an earlier invocation, before or after."""
    cold, _cold_start[0] = _cold_start[0], False
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(function_request_id=getattr(context, "aws_request_id", None), cold_start=cold)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()


class InvocationScope:
    """The invocation's redactor (active in every log record) and log keys, removed on exit."""

    def __init__(self, kind: str, context: Any = None) -> None:
        self.kind = kind
        self.redactor = Redactor()
        self.step = "invalid"
        self.started = time.perf_counter()
        self._timings = collecting()
        self._keys = lambda_log_keys(context)

    def __enter__(self) -> InvocationScope:
        redacting_filter.redactor = self.redactor
        self._timings.__enter__()
        self._keys.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # Thread-local keys: concurrent invocations in one process (the sandbox) never mix their fields.
        self._keys.__exit__(None, None, None)
        redacting_filter.redactor = None
        self._timings.__exit__(None, None, None)

    def begin(self, request: RotationEvent) -> None:
        """The event is valid: its fields go on every log line; its RotationToken is secret."""
        self.step = request.step.value
        self.redactor.add(request.rotation_token)
        logger.thread_safe_append_keys(secret=request.arn, step=self.step, token=request.token, kind=self.kind)

    def name_secret(self, name: str) -> None:
        """Log the secret's name rather than the ARN once DescribeSecret told it."""
        logger.thread_safe_append_keys(secret=name)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)

    def succeeded(self, outcome: str) -> None:
        record_step(self.kind, self.step, ok=True, duration_ms=self.elapsed_ms())
        logger.info(STEP_DONE, extra={"outcome": outcome, "duration_ms": self.elapsed_ms(), "calls": calls()})

    def failed(self, exc: BaseException) -> RotationError:
        """The sanitised error to raise; the failure is logged with a redacted traceback and counted."""
        clean = sanitise(exc, self.redactor)
        logger.error(
            STEP_FAILED,
            extra={
                "outcome": "failed",
                "error_type": type(clean).__name__,
                "error": str(clean),
                "traceback": self.redactor.redact("".join(traceback.format_exception(exc))),
                "duration_ms": self.elapsed_ms(),
                "calls": calls(),
            },
        )
        record_step(self.kind, self.step, ok=False, duration_ms=self.elapsed_ms())
        return clean


def sanitise(exc: BaseException, redactor: Redactor) -> RotationError:
    """A copy of a typed error with known values redacted, or ``UnexpectedError`` keeping only the type's name.

    The copy has no ``__cause__``, ``__context__`` or traceback: nothing unredacted travels with it.
    """
    if isinstance(exc, RotationError):
        # Built without __init__, whose signature differs between subclasses.
        clean = type(exc).__new__(type(exc))
        clean.__dict__.update(exc.__dict__)
        clean.args = tuple(redactor.redact(str(arg)) for arg in exc.args)
        return clean
    return UnexpectedError(f"unexpected {type(exc).__name__}")


def record_step(kind: str, step: str, *, ok: bool, duration_ms: float) -> None:
    """``StepSucceeded``/``StepFailed`` and ``StepDuration`` with the dimensions kind and step, flushed now."""
    metrics.clear_metrics()  # a metric set belongs to one invocation, even when flushing is disabled
    metrics.add_dimension(name="kind", value=kind)
    metrics.add_dimension(name="step", value=step)
    metrics.add_metric(name="StepSucceeded" if ok else "StepFailed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
    metrics.flush_metrics()


def invoked_function(context: Any) -> str | None:
    """The ARN of the invoked function (Lambda's context), None without a context."""
    arn = getattr(context, "invoked_function_arn", None)
    return arn if isinstance(arn, str) and arn else None
