"""The rotation protocol, owned once: staging checks, idempotent steps, promotion.

A kind plugs in a Strategy; ``Engine._run`` is the protocol: it describes the
secret once per invocation, refuses what the protocol forbids, parses the
values the kind needs, and performs createSecret and finishSecret itself. Before a setSecret that takes a
credential away (the strategy's ``revokes``) it asks ``rotator.consumer_guard`` whether a running ECS
consumer still holds it; ``revokePrevious`` (an operator's action, not a protocol step) runs here too.
What surrounds it (log keys, redaction, metrics, sanitising, per-call timings)
lives in ``rotator.boundary``.
"""

from __future__ import annotations

from typing import Any

from rotator.boundary import InvocationScope, invoked_function
from rotator.constants import Action, Stage, Step
from rotator.consumer_guard import ConsumerGuard, ConsumerSettings, Revokes
from rotator.errors import (
    NotPendingError,
    NotRotationFunctionError,
    RotationDisabledError,
    RotationError,
    UnknownVersionError,
    ValueNotFoundError,
)
from rotator.event import RotationEvent
from rotator.observability import Redactor, logger
from rotator.secrets_manager import SecretDescription, SecretsManager
from rotator.staging import STAGED_LABEL, used_up
from rotator.strategy import (
    ApplyRequest,
    GenerateRequest,
    RetireRequest,
    RevokeRequest,
    SecretRef,
    Strategy,
    VerifyRequest,
)
from rotator.versions import VersionReader

__all__ = ["Engine"]


class Engine:
    """Runs one rotation step per invocation for one kind of secret."""

    def __init__(self, strategy: Strategy[Any], sm: SecretsManager, guard: ConsumerGuard | None = None) -> None:
        self.strategy = strategy
        self.sm = sm
        self.guard = guard or ConsumerGuard(ConsumerSettings())

    def __call__(self, event: Any, context: Any = None) -> dict[str, str]:
        """The Lambda handler; what the step did (Secrets Manager ignores it, ``revoke-previous`` prints it)."""
        failure: RotationError | None = None
        with InvocationScope(self.strategy.KIND) as scope:
            try:
                request = RotationEvent.parse(event)
                scope.begin(request)
                outcome = self._run(request, scope, invoked_function(context))
            except Exception as exc:
                failure = scope.failed(exc)
            if failure is not None:
                # Raised outside the except block: neither __cause__ nor __context__ may carry the
                # unredacted original (a driver error's text can hold a password).
                raise failure
            scope.succeeded(outcome)
            return {"outcome": outcome}

    def _run(self, request: RotationEvent, scope: InvocationScope, invoked_arn: str | None) -> str:
        description = self.sm.describe(request.arn)
        scope.name_secret(description.name)
        stages = _check_stages(description, request.token, request.step)
        _check_invoker(description, invoked_arn)
        ref = SecretRef(arn=description.arn, name=description.name, token=request.token)
        versions = VersionReader(self.sm, description, request.token, scope.redactor, self.strategy)
        if request.step is Action.REVOKE_PREVIOUS:
            return self._revoke_previous(description, ref, versions)
        if Stage.CURRENT in stages:
            if request.step is Step.FINISH:
                # Promotion already happened (a re-driven finishSecret): only the idempotent clean-up is left.
                self._after_promotion(ref, versions)
            return "already current"
        if request.step is Step.CREATE:
            return self._create(request, ref, versions, scope.redactor)
        if request.step is Step.SET:
            apply = ApplyRequest(ref, versions)
            self.guard.before_revoking(self.strategy.revokes(apply), description, self.sm)
            self.strategy.apply(apply)
            return "applied"
        if request.step is Step.TEST:
            self.strategy.verify(VerifyRequest(ref, versions))
            return "verified"
        return self._finish(description, ref, versions)

    def _create(self, request: RotationEvent, ref: SecretRef, versions: VersionReader[Any], redactor: Redactor) -> str:
        try:
            versions.pending()
            return "pending value already stored"
        except ValueNotFoundError:
            pass
        text = self.strategy.generate(GenerateRequest(ref, versions))
        redactor.add(text, *self.strategy.secret_parts(text))
        self.sm.put_pending(ref.arn, ref.token, text, request.rotation_token)
        return "pending value stored"

    def _finish(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> str:
        # Secrets Manager never sends finishSecret before createSecret stored a value; a manual or stale
        # invocation can. Promoting an empty version would make AWSCURRENT unreadable. (Cached by the earlier
        # steps of a warm container: no extra call.)
        if not versions.pending_stored():
            raise NotPendingError(f"version {ref.token} of {description.name} holds no value: nothing to promote")
        current_version = description.version_with(Stage.CURRENT)
        self.sm.move_stage(ref.arn, Stage.CURRENT, to_version=ref.token, from_version=current_version)
        logger.info("promoted", extra={"previous_version": current_version})
        self._after_promotion(ref, versions)
        return "promoted"

    def _revoke_previous(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> str:
        """An operator's last step of a rotation: AWSPREVIOUS stops working, once no consumer can hold it."""
        if description.stuck_pending is not None:
            raise NotPendingError(f"a rotation of {ref.name} is under way: revoke after it finished")
        if description.version_with(Stage.PREVIOUS) is None:
            return "nothing to revoke: the secret never rotated"
        self.guard.before_revoking(Revokes.PREVIOUS, description, self.sm)
        return self.strategy.revoke_previous(RevokeRequest(ref, versions))

    def _after_promotion(self, ref: SecretRef, versions: VersionReader[Any]) -> None:
        """Idempotent clean-up, also when finishSecret is re-driven after a crash right after the stage move."""
        staged = used_up(versions)
        if staged is not None:
            self.sm.move_stage(ref.arn, STAGED_LABEL, to_version=None, from_version=staged)
        self.strategy.retire(RetireRequest(ref, versions))


def _check_stages(description: SecretDescription, token: str, step: Step | Action) -> tuple[str, ...]:
    if not description.rotation_enabled:
        raise RotationDisabledError(f"rotation is not enabled for {description.name}")
    if token not in description.versions:
        raise UnknownVersionError(f"token {token} is not a version of {description.name}")
    stages = description.versions[token]
    if step is Action.REVOKE_PREVIOUS and Stage.CURRENT not in stages:
        raise NotPendingError(f"{step.value} names version {token}, which is not AWSCURRENT of {description.name}")
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
