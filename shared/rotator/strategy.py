"""The narrow interface a kind of secret implements; the engine owns everything else.

Each method takes one frozen request object, so adding a field to a request
touches no strategy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rotator.constants import Stage
from rotator.errors import SecretNotFoundError, ValueNotFoundError
from rotator.observability import Redactor
from rotator.secrets_manager import SecretDescription, SecretsManager, SecretValue
from rotator.settings import Settings

__all__ = [
    "ApplyRequest",
    "GenerateRequest",
    "RetireRequest",
    "SecretRef",
    "Strategy",
    "VerifyRequest",
    "VersionReader",
]


@dataclass(frozen=True)
class SecretRef:
    """Which secret and which version this rotation is about."""

    arn: str
    name: str
    token: str


class VersionReader:
    """Reads the versions a step needs, once each, and registers every value for redaction."""

    def __init__(
        self,
        sm: SecretsManager,
        description: SecretDescription,
        token: str,
        redactor: Redactor,
        strategy: Strategy,
    ) -> None:
        self._sm = sm
        self._description = description
        self._token = token
        self._redactor = redactor
        self._strategy = strategy

    @property
    def description(self) -> SecretDescription:
        """The DescribeSecret result of this invocation."""
        return self._description

    def pending(self) -> SecretValue:
        """The AWSPENDING value of this rotation (ValueNotFoundError until createSecret stored it)."""
        return self._read(self._description.arn, version_id=self._token)

    def current(self) -> SecretValue:
        """The AWSCURRENT value."""
        # Without a version id Secrets Manager answers with AWSCURRENT too.
        return self._read(self._description.arn, version_id=self._description.version_with(Stage.CURRENT))

    def previous(self) -> SecretValue | None:
        """The AWSPREVIOUS value, or None when the secret has never rotated."""
        version_id = self._description.version_with(Stage.PREVIOUS)
        if version_id is None:
            return None
        try:
            return self._read(self._description.arn, version_id=version_id)
        except ValueNotFoundError:
            return None

    def labelled(self, label: str) -> SecretValue | None:
        """The value of the version holding a custom label (``STAGED``), or None."""
        version_id = self._description.version_with(label)
        if version_id is None:
            return None
        return self._read(self._description.arn, version_id=version_id)

    def other(self, secret_id: str) -> SecretValue:
        """The AWSCURRENT value of another secret (a master or admin credential)."""
        try:
            return self._read(secret_id, stage=Stage.CURRENT)
        except ValueNotFoundError as exc:
            # AWSCURRENT always has a value, so the secret itself is missing (or invisible to us).
            raise SecretNotFoundError(exc.operation, exc.code, secret_id) from exc

    def _read(self, secret_id: str, *, version_id: str | None = None, stage: Stage | None = None) -> SecretValue:
        value = self._sm.get_value(secret_id, version_id=version_id, stage=stage)
        self._redactor.add(value.text, *self._strategy.secret_parts(value.text))
        return value


@dataclass(frozen=True)
class GenerateRequest:
    """createSecret: produce the pending value from the current one."""

    secret: SecretRef
    current: SecretValue
    versions: VersionReader


@dataclass(frozen=True)
class ApplyRequest:
    """setSecret: make the target accept the pending value."""

    secret: SecretRef
    versions: VersionReader


@dataclass(frozen=True)
class VerifyRequest:
    """testSecret: prove the pending value works."""

    secret: SecretRef
    versions: VersionReader


@dataclass(frozen=True)
class RetireRequest:
    """After finishSecret promoted the pending value: clean up what the old one needed."""

    secret: SecretRef
    versions: VersionReader


class Strategy(ABC):
    """One kind of secret. Implementations talk only to their target system."""

    KIND: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def generate(self, request: GenerateRequest) -> str:
        """The new secret value, in the same format as the current one."""

    @abstractmethod
    def apply(self, request: ApplyRequest) -> None:
        """Make the target accept the pending value. Must be idempotent."""

    @abstractmethod
    def verify(self, request: VerifyRequest) -> None:
        """Raise VerificationError unless the pending value works. Must not change anything."""

    def retire(self, request: RetireRequest) -> None:  # noqa: B027 - optional hook, default is nothing
        """Clean up after promotion. Must be idempotent; default does nothing."""

    def secret_parts(self, text: str) -> Iterable[str]:
        """Substrings of a value that are secret on their own (a password inside a URL)."""
        return ()
