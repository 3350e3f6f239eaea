"""The base of every target adapter: one object per target system, no rotation policy in it.

An adapter (a PostgreSQL server, a Redis node, the ElastiCache, MemoryDB, RDS, S3 or Stripe API) wraps each
call in ``call``: the call is timed for the step's log line (``rotator.timings``) and a driver's exception
becomes a typed error in one place, the adapter's ``typed_error``. The messages carry identifiers and codes
only, never a driver's text (which may echo a password).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from rotator.errors import RotationError, TargetBusyError, TargetRejectedError, TargetUnreachableError
from rotator.timings import timed

__all__ = ["AwsApi", "TargetClient"]


class TargetClient(ABC):
    """A target system's adapter: every call timed, every driver error typed here and only here."""

    SERVICE: ClassVar[str]

    @contextmanager
    def call(self, operation: str) -> Iterator[None]:
        """Time ``operation`` and turn the driver's exceptions into the adapter's typed errors."""
        with timed(self.SERVICE, operation):
            try:
                yield
            except RotationError:
                raise
            except Exception as exc:
                typed = self.typed_error(exc, operation)
                if typed is None:
                    raise
                raise typed from exc

    @abstractmethod
    def typed_error(self, exc: Exception, operation: str) -> Exception | None:
        """The typed error for a driver's exception raised by ``operation``; None lets it pass unchanged."""


class AwsApi(TargetClient):
    """An AWS service as a target: error codes become typed errors (busy: retryable; missing; refused)."""

    BUSY: ClassVar[frozenset[str]] = frozenset()
    MISSING: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, region: str | None = None, client: Any = None) -> None:
        self.region = region
        self._client = client
        self._single_attempt: Any = client

    @property
    @abstractmethod
    def what(self) -> str:
        """What the calls act on, for messages (``ElastiCache user app``)."""

    def client(self, *, retries: bool = True) -> Any:
        """The boto3 client; ``retries=False``: one attempt, for a call that must never be repeated blindly."""
        from rotator.aws.clients import aws_client

        if retries:
            if self._client is None:
                self._client = aws_client(self.SERVICE, region=self.region)
            return self._client
        if self._single_attempt is None:
            self._single_attempt = aws_client(self.SERVICE, region=self.region, max_attempts=1)
        return self._single_attempt

    def invoke(self, operation: str, *, retries: bool = True, **params: Any) -> Any:
        """``operation`` (its API name) with ``params``, timed, its errors typed."""
        from botocore import xform_name

        with self.call(operation):
            return getattr(self.client(retries=retries), xform_name(operation))(**params)

    def typed_error(self, exc: Exception, operation: str) -> Exception | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            return self.code_error(str(exc.response.get("Error", {}).get("Code", "Unknown")), operation)
        if isinstance(exc, BotoCoreError):
            return TargetUnreachableError(f"{operation} on {self.what} failed: {type(exc).__name__}")
        return None

    def code_error(self, code: str, operation: str) -> Exception:
        """The typed error for an AWS error code."""
        if code in self.BUSY:
            return TargetBusyError(
                f"{operation} on {self.what}: {code} (an earlier change is still applying); "
                "Secrets Manager retries the step"
            )
        if code in self.MISSING:
            return TargetRejectedError(f"{self.what} does not exist ({operation}: {code})")
        return TargetRejectedError(f"{operation} on {self.what} was refused: {code}")
