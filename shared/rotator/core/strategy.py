"""The narrow interfaces a kind implements; the engine owns everything else.

A ``Kind`` parses its secrets and picks the rotation path for one (``path_for``), once per invocation. A path
is a ``Strategy``: *generate* (createSecret), *apply* (setSecret), *verify* (testSecret) and *retire* (after
finishSecret). What only some paths or kinds can do is a protocol, not an inherited default:

* ``Revocable``: the path takes a credential away (the engine checks consumers first), and
  ``rotation revoke-previous`` can end the overlap early;
* ``Stageable``: the kind promotes a value an operator staged (``rotation stage``).

Each method takes one frozen request whose ``pending`` and ``current`` are the kind's parsed secret type,
parsed once, on first use (a step that needs no value reads none). Adding a field to a request touches no kind,
and redaction of every secret part comes from the type, not from each kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar, cast, runtime_checkable

from rotator.codecs.parsed import ParsedSecret
from rotator.constants import Stage
from rotator.errors import SecretFormatError
from rotator.settings import Settings

if TYPE_CHECKING:
    from rotator.aws.secrets_manager import SecretDescription
    from rotator.core.versions import VersionReader

__all__ = [
    "ApplyRequest",
    "GenerateRequest",
    "Kind",
    "RetireRequest",
    "Revocable",
    "RevokeRequest",
    "Revokes",
    "SecretRef",
    "Stageable",
    "StepRequest",
    "Strategy",
    "VerifyRequest",
]

_S = TypeVar("_S", bound=ParsedSecret)
_S_contra = TypeVar("_S_contra", bound=ParsedSecret, contravariant=True)


class Revokes(StrEnum):
    """Which credential a path's setSecret stops accepting."""

    NOTHING = "nothing"
    CURRENT = "current"
    PREVIOUS = "previous"


@dataclass(frozen=True)
class SecretRef:
    """Which secret and which version this rotation is about."""

    arn: str
    name: str
    token: str


@dataclass(frozen=True)
class StepRequest(Generic[_S]):
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

    @property
    def subject(self) -> _S:
        """The value this step acts on, which a kind with several paths chooses its path from."""
        return self.current


class GenerateRequest(StepRequest[_S]):
    """createSecret: produce the pending value from ``current``."""


class ApplyRequest(StepRequest[_S]):
    """setSecret: make the target accept ``pending`` (the path is AWSCURRENT's, never the pending value's)."""


class VerifyRequest(StepRequest[_S]):
    """testSecret: prove ``pending`` works."""

    @property
    def subject(self) -> _S:
        return self.pending  # the value under test; AWSCURRENT is not read for it

    @property
    def is_configuration_test(self) -> bool:
        """Secrets Manager's test of a new rotation configuration (``RotateImmediately=false``).

        It stages a temporary AWSPENDING copy of AWSCURRENT and runs testSecret alone: the kind must check
        that the current value works, without changing anything, and without asking that it be new.
        """
        return self.versions.pending().text == self.versions.current().text

    @property
    def is_previous_check(self) -> bool:
        """``rotation rollback``'s proof (``checkPrevious``): the value under test is AWSPREVIOUS, the one a
        rollback would make current again, so it must work everywhere its credential is decided."""
        return Stage.PREVIOUS in self.versions.description.versions.get(self.secret.token, ())


class RetireRequest(StepRequest[_S]):
    """After finishSecret promoted the pending value: clean up what the old one needed."""

    @property
    def subject(self) -> _S:
        return self.pending  # the value just promoted (read already by finishSecret)


class RevokeRequest(StepRequest[_S]):
    """``rotation revoke-previous``: make AWSPREVIOUS's credential stop working (``current`` is the new one)."""

    @property
    def previous(self) -> _S | None:
        """The parsed AWSPREVIOUS value, or None when the secret never rotated."""
        return self.versions.previous_secret()


class Strategy(ABC, Generic[_S]):
    """One rotation path of a kind. Implementations talk only to their target, through its adapter."""

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


@runtime_checkable
class Revocable(Protocol[_S]):
    """A path whose setSecret takes a credential away, and which can end the overlap early."""

    def revokes(self, request: ApplyRequest[_S]) -> Revokes:
        """Which credential ``apply`` stops accepting (the engine checks consumers first)."""
        ...

    def revoke_previous(self, request: RevokeRequest[_S]) -> str:
        """Make AWSPREVIOUS's credential stop working; what was done. Must be idempotent."""
        ...


@runtime_checkable
class Stageable(Protocol[_S_contra]):
    """A kind whose next value an operator may stage (``rotation stage``) for createSecret to promote."""

    def needs_staged_value(self, description: SecretDescription) -> bool:
        """Whether a rotation of this secret needs an operator-staged value (else the kind makes it)."""
        ...

    def check_staged(self, staged: _S_contra, current: _S_contra, secret_name: str) -> None:
        """The one check of a staged value, for createSecret and ``rotation stage`` alike."""
        ...


class Kind(ABC, Generic[_S]):
    """One kind of secret: its parsed type, its settings, and the choice of its rotation path."""

    KIND: ClassVar[str]
    SECRET: ClassVar[type[ParsedSecret]]
    # Whether the value is a credential a target may stop accepting (after revoke-previous, a later rotation, a key
    # rolled at the provider): ``rotation rollback`` then has the rotation function prove AWSPREVIOUS still works.
    CREDENTIAL_AT_TARGET: ClassVar[bool] = False

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
    def path_for(self, request: StepRequest[_S]) -> Strategy[_S]:
        """The path this step takes, from ``request.subject`` (read only by a kind with several paths)."""

    def rollback_note(self, current: _S, previous: _S) -> str | None:
        """Refuse (raise) a rollback that would lock consumers out; else what the operator should know, if anything.

        Decided from the two values alone: the operator's command line has none of the function's configuration.
        """
        return None
