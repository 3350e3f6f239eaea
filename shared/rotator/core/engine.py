"""The rotation protocol, owned once: staging checks, idempotent steps, promotion.

A kind plugs in (``rotator.core.strategy.Kind``); ``Engine._run`` is the protocol: it describes the secret once
per invocation, refuses what the protocol forbids, lets the kind choose the path for the step, and performs
createSecret and finishSecret itself. Before a setSecret that takes a credential away (a ``Revocable`` path's
``revokes``) it asks the consumer check (``rotator.consumers.guard``, wired by ``rotator.handler``) whether a
running consumer still holds it; ``revokePrevious`` (an operator's action, not a protocol step) runs here too.
What surrounds it (log keys, redaction, metrics, sanitising, per-call timings) lives in
``rotator.core.boundary``.
"""

from __future__ import annotations

from typing import Any, Protocol

from rotator.aws.secrets_manager import SecretDescription, SecretsManager
from rotator.constants import Action, Stage, Step
from rotator.core.boundary import InvocationScope, invoked_function
from rotator.core.event import RotationEvent
from rotator.core.staging import STAGED_LABEL, VERIFIED_LABEL, used_up
from rotator.core.strategy import (
    ApplyRequest,
    GenerateRequest,
    Kind,
    RetireRequest,
    Revocable,
    RevokeRequest,
    Revokes,
    SecretRef,
    VerifyRequest,
)
from rotator.core.versions import VersionReader
from rotator.errors import (
    NotPendingError,
    NotRotationFunctionError,
    PolicyError,
    RotationDisabledError,
    RotationError,
    SecretsManagerError,
    UnknownVersionError,
    ValueNotFoundError,
)
from rotator.observability import Redactor, logger

__all__ = ["ConsumerCheck", "Engine"]


class ConsumerCheck(Protocol):
    """Refuses a step that would take away a credential a running consumer still holds."""

    def before_revoking(self, revokes: Revokes, description: SecretDescription, sm: SecretsManager) -> None:
        """Raise unless taking away the ``revokes`` credential of the secret cuts off no running consumer."""
        ...

    def after_promotion(self, description: SecretDescription, version: str, sm: SecretsManager) -> None:
        """Note that ``version`` just became AWSCURRENT (idempotent; never raises)."""
        ...


class _NoConsumers:
    """No consumer to check (a handler built without the consumer feature)."""

    def before_revoking(self, revokes: Revokes, description: SecretDescription, sm: SecretsManager) -> None:
        return None

    def after_promotion(self, description: SecretDescription, version: str, sm: SecretsManager) -> None:
        return None


class Engine:
    """Runs one rotation step per invocation for one kind of secret."""

    def __init__(self, kind: Kind[Any], sm: SecretsManager, guard: ConsumerCheck | None = None) -> None:
        self.kind = kind
        self.sm = sm
        self.guard: ConsumerCheck = guard or _NoConsumers()

    def __call__(self, event: Any, context: Any = None) -> dict[str, str]:
        """The Lambda handler; what the step did (Secrets Manager ignores it, ``revoke-previous`` prints it)."""
        failure: RotationError | None = None
        with InvocationScope(self.kind.KIND, context) as scope:
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
        versions = VersionReader(self.sm, description, request.token, scope.redactor, self.kind.parse)
        if request.step is Action.REVOKE_PREVIOUS:
            return self._revoke_previous(description, ref, versions)
        if request.step is Action.CHECK_PREVIOUS:
            return self._check_previous(ref, versions)
        if Stage.CURRENT in stages:
            if request.step is Step.FINISH:
                # Promotion already happened (a re-driven finishSecret): only the idempotent clean-up is left.
                self._after_promotion(description, ref, versions)
            return "already current"
        if request.step is Step.CREATE:
            return self._create(request, ref, versions, scope.redactor)
        if request.step is Step.SET:
            apply = ApplyRequest(ref, versions)
            path = self.kind.path_for(apply)
            if isinstance(path, Revocable):
                self.guard.before_revoking(path.revokes(apply), description, self.sm)
            path.apply(apply)
            return "applied"
        if request.step is Step.TEST:
            return self._test(description, ref, versions)
        return self._finish(description, ref, versions)

    def _create(self, request: RotationEvent, ref: SecretRef, versions: VersionReader[Any], redactor: Redactor) -> str:
        try:
            versions.pending()
            return "pending value already stored"
        except ValueNotFoundError:
            pass
        generate = GenerateRequest(ref, versions)
        text = self.kind.path_for(generate).generate(generate)
        redactor.add(text, *self.kind.secret_parts(text))
        try:
            self.sm.put_pending(ref.arn, ref.token, text, request.rotation_token)
        except SecretsManagerError as exc:
            # Another invocation of this step stored its value first: Secrets Manager refuses a different value
            # for an existing version (ResourceExistsException), so the stored one is the rotation's, and this
            # one was never stored or used. Nothing to do once that value reads back.
            if exc.code != "ResourceExistsException":
                raise
            versions.pending()
            logger.info("a concurrent createSecret stored the pending value first")
            return "pending value already stored"
        return "pending value stored"

    def _test(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> str:
        verify = VerifyRequest(ref, versions)
        self.kind.path_for(verify).verify(verify)
        # Secrets Manager's test of a new configuration rotates nothing: its temporary version is left unlabelled.
        if VERIFIED_LABEL not in description.versions[ref.token] and not verify.is_configuration_test:
            self._move_label(description, ref, VERIFIED_LABEL)
        return "verified"

    def _move_label(self, description: SecretDescription, ref: SecretRef, label: str) -> str | None:
        """Move ``label`` to the rotation's version from where DescribeSecret saw it; returns that version.

        Another invocation of the same step (Secrets Manager reattempting a rotation still in flight) may have
        moved it first: Secrets Manager then refuses the move (InvalidParameterException: the label is no longer
        on ``holder``), and the step is done when the label is on this version after all.
        """
        holder = description.version_with(label)
        try:
            self.sm.move_stage(ref.arn, label, to_version=ref.token, from_version=holder)
        except SecretsManagerError as exc:
            moved = exc.code == "InvalidParameterException" and label in self.sm.describe(ref.arn).versions.get(
                ref.token, ()
            )
            if not moved:
                raise
        return holder

    def _finish(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> str:
        # Secrets Manager never sends finishSecret before createSecret stored a value; a manual or stale
        # invocation can. Promoting an empty version would make AWSCURRENT unreadable. (Cached by the earlier
        # steps of a warm container: no extra call.)
        if not versions.pending_stored():
            raise NotPendingError(f"version {ref.token} of {description.name} holds no value: nothing to promote")
        if VERIFIED_LABEL not in description.versions[ref.token]:
            # No testSecret proved it (an out-of-order invocation, or a rotation begun before this label
            # existed): prove it now, or promote nothing.
            verify = VerifyRequest(ref, versions)
            self.kind.path_for(verify).verify(verify)
        current_version = self._move_label(description, ref, Stage.CURRENT)
        logger.info("promoted", extra={"previous_version": current_version})
        self._after_promotion(description, ref, versions)
        return "promoted"

    def _revoke_previous(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> str:
        """An operator's last step of a rotation: AWSPREVIOUS stops working, once no consumer can hold it."""
        if description.stuck_pending is not None:
            raise NotPendingError(f"a rotation of {ref.name} is under way: revoke after it finished")
        if description.version_with(Stage.PREVIOUS) is None:
            return "nothing to revoke: the secret never rotated"
        revoke = RevokeRequest(ref, versions)
        path = self.kind.path_for(revoke)
        if not isinstance(path, Revocable):
            raise PolicyError(f"{self.kind.KIND} secrets have no previous credential to revoke")
        self.guard.before_revoking(Revokes.PREVIOUS, description, self.sm)
        return path.revoke_previous(revoke)

    def _check_previous(self, ref: SecretRef, versions: VersionReader[Any]) -> str:
        """Before an operator's rollback: AWSPREVIOUS's credential still works where it points (the kind's
        testSecret checks, run on that version; a ``VerificationError`` otherwise). Changes nothing."""
        verify = VerifyRequest(ref, versions)
        self.kind.path_for(verify).verify(verify)
        return "AWSPREVIOUS still works"

    def _after_promotion(self, description: SecretDescription, ref: SecretRef, versions: VersionReader[Any]) -> None:
        """Idempotent clean-up, also when finishSecret is re-driven after a crash right after the stage move. A
        path that takes credentials away (``Revocable``) has the promotion noted for its consumer checks."""
        retire = RetireRequest(ref, versions)
        path = self.kind.path_for(retire)
        if isinstance(path, Revocable):
            self.guard.after_promotion(description, ref.token, self.sm)
        staged = used_up(versions)
        if staged is not None:
            self.sm.move_stage(ref.arn, STAGED_LABEL, to_version=None, from_version=staged)
        path.retire(retire)


def _check_stages(description: SecretDescription, token: str, step: Step | Action) -> tuple[str, ...]:
    if not description.rotation_enabled:
        raise RotationDisabledError(f"rotation is not enabled for {description.name}")
    if token not in description.versions:
        raise UnknownVersionError(f"token {token} is not a version of {description.name}")
    stages = description.versions[token]
    if step is Action.CHECK_PREVIOUS:
        if Stage.PREVIOUS not in stages:
            raise NotPendingError(f"{step.value} names version {token}, which is not AWSPREVIOUS of {description.name}")
        return stages
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
