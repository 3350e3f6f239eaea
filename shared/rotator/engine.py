"""The rotation protocol, owned once: staging checks, idempotent steps, promotion.

A kind plugs in a Strategy; the engine parses the event, describes the secret
once per invocation, refuses what the protocol forbids, performs createSecret
and finishSecret itself, logs once at the boundary and sanitises every error
that escapes.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rotator.constants import STAGED_LABEL, Stage, Step
from rotator.errors import (
    NotPendingError,
    NotRotationFunctionError,
    RotationDisabledError,
    RotationError,
    UnexpectedError,
    UnknownVersionError,
    ValueNotFoundError,
)
from rotator.event import RotationEvent
from rotator.observability import Redactor, logger, metrics, redacting_filter, tracer
from rotator.secrets_manager import SecretDescription, SecretsManager
from rotator.strategy import (
    ApplyRequest,
    GenerateRequest,
    RetireRequest,
    SecretRef,
    Strategy,
    VerifyRequest,
    VersionReader,
)

__all__ = ["Engine"]

_LOG_KEYS = ("secret", "step", "token", "kind")


class Engine:
    """Runs one rotation step per invocation for one kind of secret."""

    def __init__(self, strategy: Strategy, sm: SecretsManager) -> None:
        self.strategy = strategy
        self.sm = sm

    def __call__(self, event: Any, context: Any = None) -> None:
        """The Lambda handler."""
        started = time.perf_counter()
        redactor = Redactor()
        redacting_filter.redactor = redactor
        step_name = "invalid"
        clean: RotationError | None = None
        try:
            # The subsegment records an escaping exception's message; only sanitised ones reach it.
            with tracer.provider.in_subsegment("## rotation step") as subsegment:
                try:
                    request = RotationEvent.parse(event)
                    step_name = request.step.value
                    redactor.add(request.rotation_token)
                    subsegment.put_annotation("kind", self.strategy.KIND)
                    subsegment.put_annotation("step", step_name)
                    logger.thread_safe_append_keys(
                        secret=request.arn, step=step_name, token=request.token, kind=self.strategy.KIND
                    )
                    outcome = self._run(request, redactor, getattr(context, "invoked_function_arn", None))
                except Exception as exc:
                    clean = _sanitise(exc, redactor)
                    self._log_failure(clean, exc, redactor, started)
                if clean is not None:
                    # Raised outside the except block: neither __cause__ nor __context__ may carry the
                    # unredacted original (a driver error's text can hold a password).
                    raise clean
        except RotationError:
            self._record(step_name, started, ok=False)
            raise
        else:
            self._record(step_name, started, ok=True)
            logger.info("rotation step done", extra={"outcome": outcome, "duration_ms": _ms(started)})
        finally:
            # Thread-local keys: concurrent invocations in one process (the sandbox) never mix their fields.
            logger.thread_safe_remove_keys(list(_LOG_KEYS))
            redacting_filter.redactor = None

    def _log_failure(self, clean: RotationError, exc: BaseException, redactor: Redactor, started: float) -> None:
        logger.error(
            "rotation step failed",
            extra={
                "outcome": "failed",
                "error_type": type(clean).__name__,
                "error": str(clean),
                "traceback": redactor.redact("".join(traceback.format_exception(exc))),
                "duration_ms": _ms(started),
            },
        )

    def _run(self, request: RotationEvent, redactor: Redactor, invoked_arn: str | None) -> str:
        description = self.sm.describe(request.arn)
        logger.thread_safe_append_keys(secret=description.name)
        stages = _check_stages(description, request.token)
        _check_invoker(description, invoked_arn)
        ref = SecretRef(arn=description.arn, name=description.name, token=request.token)
        versions = VersionReader(self.sm, description, request.token, redactor, self.strategy)
        if Stage.CURRENT in stages:
            if request.step is Step.FINISH:
                # Promotion already happened (a re-driven finishSecret): only the idempotent clean-up is left.
                self._after_promotion(ref, versions)
            return "already current"
        if request.step is Step.CREATE:
            return self._create(request, ref, versions, redactor)
        if request.step is Step.SET:
            self.strategy.apply(ApplyRequest(ref, versions))
            return "applied"
        if request.step is Step.TEST:
            self.strategy.verify(VerifyRequest(ref, versions))
            return "verified"
        return self._finish(description, ref, versions)

    def _create(self, request: RotationEvent, ref: SecretRef, versions: VersionReader, redactor: Redactor) -> str:
        try:
            versions.pending()
            return "pending value already stored"
        except ValueNotFoundError:
            pass
        current = versions.current()
        text = self.strategy.generate(GenerateRequest(ref, current, versions))
        redactor.add(text, *self.strategy.secret_parts(text))
        self.sm.put_pending(ref.arn, ref.token, text, request.rotation_token)
        return "pending value stored"

    def _finish(self, description: SecretDescription, ref: SecretRef, versions: VersionReader) -> str:
        current_version = description.version_with(Stage.CURRENT)
        self.sm.move_stage(ref.arn, Stage.CURRENT, to_version=ref.token, from_version=current_version)
        logger.info("promoted", extra={"previous_version": current_version})
        self._after_promotion(ref, versions)
        return "promoted"

    def _after_promotion(self, ref: SecretRef, versions: VersionReader) -> None:
        """Idempotent clean-up, also when finishSecret is re-driven after a crash right after the stage move."""
        staged = versions.labelled(STAGED_LABEL)
        # An operator's staged value is used up once promoted; one staged since then is left for the next rotation.
        if staged is not None and staged.text == versions.pending().text:
            self.sm.move_stage(ref.arn, STAGED_LABEL, to_version=None, from_version=staged.version_id)
        self.strategy.retire(RetireRequest(ref, versions))

    def _record(self, step: str, started: float, *, ok: bool) -> None:
        metrics.clear_metrics()  # a metric set belongs to one invocation, even when flushing is disabled
        metrics.add_dimension(name="kind", value=self.strategy.KIND)
        metrics.add_dimension(name="step", value=step)
        metrics.add_metric(name="StepSucceeded" if ok else "StepFailed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds, value=_ms(started))
        metrics.flush_metrics()


def _check_stages(description: SecretDescription, token: str) -> tuple[str, ...]:
    if not description.rotation_enabled:
        raise RotationDisabledError(f"rotation is not enabled for {description.name}")
    if token not in description.versions:
        raise UnknownVersionError(f"token {token} is not a version of {description.name}")
    stages = description.versions[token]
    if Stage.CURRENT not in stages and Stage.PENDING not in stages:
        raise NotPendingError(f"version {token} of {description.name} is not AWSPENDING")
    return stages


def _check_invoker(description: SecretDescription, invoked_arn: str | None) -> None:
    """Only the secret's own rotation function may rotate it: refuses a direct invocation of another function."""
    expected = description.rotation_lambda_arn
    if invoked_arn is None or expected is None or _unqualified(invoked_arn) != _unqualified(expected):
        raise NotRotationFunctionError(
            f"{description.name} is rotated by {expected or 'no function'}, not by the invoked "
            f"{invoked_arn or 'caller (no Lambda context)'}: rotation functions run only for Secrets Manager"
        )


def _unqualified(function_arn: str) -> str:
    """A function ARN without its version or alias (``arn:aws:lambda:region:account:function:name``)."""
    return ":".join(function_arn.split(":")[:7])


def _sanitise(exc: BaseException, redactor: Redactor) -> RotationError:
    """A copy of a typed error with known values redacted; unknown errors keep only their type."""
    if isinstance(exc, RotationError):
        # Built without __init__, whose signature differs between subclasses.
        clean = type(exc).__new__(type(exc))
        clean.__dict__.update(exc.__dict__)
        clean.args = tuple(redactor.redact(str(arg)) for arg in exc.args)
        return clean
    return UnexpectedError(f"unexpected {type(exc).__name__}")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
