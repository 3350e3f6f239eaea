"""One error hierarchy for the whole suite.

Messages carry identifiers only (secret name or ARN, token, step, kind, field
name, AWS/SQLSTATE/HTTP code), never a secret value and never the text of a
driver exception, which may echo one.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConsumerCheckError",
    "EventError",
    "ForbiddenTargetError",
    "NotPendingError",
    "NotRotationFunctionError",
    "OverlapNotElapsedError",
    "PasswordKeyError",
    "PolicyError",
    "ProtocolError",
    "RotationDisabledError",
    "RotationError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretsManagerError",
    "SecretsManagerUnavailableError",
    "StaleConsumersError",
    "StagingRequiredError",
    "TargetBusyError",
    "TargetRejectedError",
    "TargetUnreachableError",
    "ThrottledError",
    "UnexpectedError",
    "UnknownVersionError",
    "ValueNotFoundError",
    "VerificationError",
]


class RotationError(Exception):
    """Base of every error the suite raises on purpose.

    ``changes_nothing``: the error is a refusal raised before anything changed (the command line exits 2 for it).
    """

    changes_nothing: ClassVar[bool] = False


class EventError(RotationError):
    """The invocation event is malformed (missing key, unknown step, wrong type)."""

    changes_nothing = True


class ProtocolError(RotationError):
    """The secret's state does not allow this step (staging checks)."""

    changes_nothing = True


class RotationDisabledError(ProtocolError):
    """Rotation is not enabled on the secret."""


class UnknownVersionError(ProtocolError):
    """The event's token is not a version of the secret."""


class NotPendingError(ProtocolError):
    """The event's version is neither AWSCURRENT nor AWSPENDING."""


class NotRotationFunctionError(ProtocolError):
    """The invoked function is not the secret's rotation function (a direct invocation)."""


class StagingRequiredError(ProtocolError):
    """The kind cannot invent a value and none was staged for this rotation."""


class SecretFormatError(RotationError):
    """A secret value is not in the format its kind expects."""

    changes_nothing = True


class PolicyError(RotationError):
    """A generation or validation policy cannot be satisfied."""


class ConfigurationError(RotationError):
    """The function's configuration (environment) is invalid."""


class SecretsManagerError(RotationError):
    """A Secrets Manager call failed; carries the operation and AWS error code."""

    def __init__(self, operation: str, code: str, secret_id: str) -> None:
        super().__init__(f"{operation} failed for {secret_id}: {code}")
        self.operation = operation
        self.code = code
        self.secret_id = secret_id


class SecretNotFoundError(SecretsManagerError):
    """The secret does not exist (or is not visible to the caller)."""


class ValueNotFoundError(SecretsManagerError):
    """The requested version or stage holds no value (yet)."""


class ThrottledError(SecretsManagerError):
    """Secrets Manager kept throttling after every retry."""


class SecretsManagerUnavailableError(SecretsManagerError):
    """Secrets Manager could not be reached in time (connect or read timeout)."""


class PasswordKeyError(RotationError):
    """The KMS key that makes passwords (``ROTATION_PASSWORD_MAC_KEY_ARN``) could not be used: nothing changed."""

    changes_nothing = True


class ForbiddenTargetError(RotationError):
    """The secret asks for what the suite never does: change a privileged or foreign user, use a foreign endpoint."""

    changes_nothing = True


class TargetUnreachableError(RotationError):
    """The system whose credential rotates (database, cache, API) cannot be reached."""


class TargetRejectedError(RotationError):
    """The target refused an operation (authentication, permission, statement)."""


class TargetBusyError(RotationError):
    """The target is still applying a change (a managed user or replication group is ``modifying``).

    Retryable: nothing was left half-done, and Secrets Manager re-drives the step later.
    """


class AuthenticationError(TargetRejectedError):
    """The target refused the credentials (wrong password or unknown user)."""


class StaleConsumersError(RotationError):
    """Running consumer tasks still hold the credential a step would take away; their services were refreshed.

    Retryable: Secrets Manager re-drives the step later, and nothing changed meanwhile.
    """

    changes_nothing = True

    def __init__(self, message: str, services: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.services = services


class OverlapNotElapsedError(RotationError):
    """AWSPREVIOUS became previous too recently: a consumer's cache may still hold it (the minimum overlap).

    Retryable, and nothing changed: ``not_before`` is when revoking it becomes possible.
    """

    changes_nothing = True

    def __init__(self, message: str, not_before: datetime) -> None:
        super().__init__(message)
        self.not_before = not_before


class ConsumerCheckError(RotationError):
    """The secret's consumers could not be checked (a cluster missing, access denied, throttled): nothing changed."""

    changes_nothing = True


class VerificationError(RotationError):
    """The pending secret failed the kind's checks in testSecret."""


class UnexpectedError(RotationError):
    """An error the suite did not anticipate; only its type name is kept."""
