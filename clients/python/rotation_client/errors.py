"""The client's typed errors. No message ever holds a secret value: only names, stages and error codes."""

from __future__ import annotations

__all__ = ["CredentialsRejectedError", "RotationClientError", "SecretFormatError", "SecretUnavailableError"]


class RotationClientError(Exception):
    """Base of every error this package raises."""


class SecretUnavailableError(RotationClientError):
    """Secrets Manager could not be read: the secret is missing, access is denied, or the endpoint is unreachable."""


class SecretFormatError(RotationClientError):
    """The secret's value is not in a format this helper reads (its text is never quoted)."""


class CredentialsRejectedError(RotationClientError):
    """The target refused every value Secrets Manager holds for the secret (AWSCURRENT, and AWSPENDING if any)."""
