"""The narrow interface a kind of secret implements; the engine owns everything else.

A strategy names its parsed secret type (``SECRET``); each method takes one
frozen request object whose ``pending`` and ``current`` are that type, parsed
once, on first use (a step that needs no value reads none). Adding a field to a
request touches no strategy, and redaction of every secret part comes from the
type, not from each kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar, cast

from rotator.codecs.parsed import ParsedSecret
from rotator.consumer_guard import Revokes
from rotator.errors import PolicyError, SecretFormatError
from rotator.secrets_manager import SecretDescription
from rotator.settings import Settings
from rotator.versions import VersionReader

__all__ = [
    "ApplyRequest",
    "GenerateRequest",
    "RetireRequest",
    "RevokeRequest",
    "SecretRef",
    "Strategy",
    "VerifyRequest",
]

_S = TypeVar("_S", bound=ParsedSecret)


@dataclass(frozen=True)
class SecretRef:
    """Which secret and which version this rotation is about."""

    arn: str
    name: str
    token: str


@dataclass(frozen=True)
class _Request(Generic[_S]):
    """The secret and its versions; ``pending`` and ``current`` are parsed on first use (once per invocation)."""

    secret: SecretRef
    versions: VersionReader[_S]

    @property
    def pending(self) -> _S:
        """The parsed AWSPENDING value (a malformed one is a SecretFormatError in every kind)."""
        return self.versions.pending_secret()

    @property
    def current(self) -> _S:
        """The parsed AWSCURRENT value."""
        return self.versions.current_secret()


class GenerateRequest(_Request[_S]):
    """createSecret: produce the pending value from ``current``."""


class ApplyRequest(_Request[_S]):
    """setSecret: make the target accept ``pending``."""


class VerifyRequest(_Request[_S]):
    """testSecret: prove ``pending`` works."""

    @property
    def is_configuration_test(self) -> bool:
        """Secrets Manager's test of a new rotation configuration (``RotateImmediately=false``).

        It stages a temporary AWSPENDING copy of AWSCURRENT and runs testSecret alone: the kind must check
        that the current value works, without changing anything, and without asking that it be new.
        """
        return self.versions.pending().text == self.versions.current().text


class RetireRequest(_Request[_S]):
    """After finishSecret promoted the pending value: clean up what the old one needed."""


class RevokeRequest(_Request[_S]):
    """``rotation revoke-previous``: make AWSPREVIOUS's credential stop working (``current`` is the new one)."""

    @property
    def previous(self) -> _S | None:
        """The parsed AWSPREVIOUS value, or None when the secret never rotated."""
        return self.versions.previous_secret()


class Strategy(ABC, Generic[_S]):
    """One kind of secret. Implementations talk only to their target system."""

    KIND: ClassVar[str]
    SECRET: ClassVar[type[ParsedSecret]]
    # Whether an operator may stage a value for the next rotation (``rotation stage``, ``check_staged``).
    STAGEABLE: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def parse(self, text: str, *, what: str) -> _S:
        """``text`` as the kind's secret type (``SecretFormatError`` naming ``what`` otherwise)."""
        return cast(_S, self.SECRET.parse(text, what=what))

    def secret_parts(self, text: str) -> Iterable[str]:
        """Substrings of a value that are secret on their own, from the parsed type (none if it does not parse)."""
        try:
            return tuple(self.parse(text, what="value").secret_parts())
        except SecretFormatError:
            return ()

    @abstractmethod
    def generate(self, request: GenerateRequest[_S]) -> str:
        """The new secret value, in the same format as the current one."""

    @abstractmethod
    def apply(self, request: ApplyRequest[_S]) -> None:
        """Make the target accept the pending value. Must be idempotent."""

    @abstractmethod
    def verify(self, request: VerifyRequest[_S]) -> None:
        """Raise VerificationError unless the pending value works. Must not change anything."""

    def retire(self, request: RetireRequest[_S]) -> None:
        """Clean up after promotion. Must be idempotent; default does nothing."""

    def revokes(self, request: ApplyRequest[_S]) -> Revokes:
        """Which credential ``apply`` stops accepting (the engine checks consumers first); default: none."""
        return Revokes.NOTHING

    def revoke_previous(self, request: RevokeRequest[_S]) -> str:
        """Make AWSPREVIOUS's credential stop working; what was done. Must be idempotent."""
        raise PolicyError(f"{self.KIND} secrets have no previous credential to revoke")

    def needs_staged_value(self, description: SecretDescription) -> bool:
        """Whether a rotation of this secret needs an operator-staged value (default: the kind generates it)."""
        return False

    def check_staged(self, staged: _S, current: _S, secret_name: str) -> None:
        """The one check of an operator-staged value, for createSecret and ``rotation stage`` alike."""
        raise PolicyError(f"{self.KIND} secrets generate their own values: nothing can be staged")

    def rollback_note(self, current: _S, previous: _S) -> str | None:
        """Refuse (raise) a rollback that would lock consumers out; else what the operator should know, if anything."""
        return None
