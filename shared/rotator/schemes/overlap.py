"""The two-password overlap: a target that accepts two passwords for one user (Redis ACL, ElastiCache and
MemoryDB users) keeps the old one working for the whole rotation period.

setSecret makes the user accept exactly AWSCURRENT's and the pending password: clients holding either keep
working, AWSPREVIOUS's stops (so the engine checks consumers first). ``rotation revoke-previous`` leaves only
AWSCURRENT's. A path says how its target keeps passwords (``accept_only``); the scheme decides which, and which
logins may prove that the secret owns the user (``rotator.schemes.ownership``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import TypeVar

from rotator.codecs.parsed import ParsedSecret
from rotator.core.strategy import ApplyRequest, RevokeRequest, Revokes, StepRequest, Strategy
from rotator.schemes.ownership import candidates

__all__ = ["Logins", "PasswordOverlap"]

_S = TypeVar("_S", bound=ParsedSecret)
# The logins that may prove ownership, afresh for each use (AWSPREVIOUS is read only when it is reached).
Logins = Callable[[], Iterator[_S]]


class PasswordOverlap(Strategy[_S]):
    """A ``Revocable`` path whose target keeps two passwords live."""

    def revokes(self, request: ApplyRequest[_S]) -> Revokes:
        """setSecret keeps the current and pending passwords: AWSPREVIOUS's stops working."""
        return Revokes.PREVIOUS

    def apply(self, request: ApplyRequest[_S]) -> None:
        self.check_pending(request)
        current, pending = request.current, request.pending
        self.accept_only(request, self._owned(request, current, pending), (current, pending))

    def revoke_previous(self, request: RevokeRequest[_S]) -> str:
        """Only AWSCURRENT's password stays: the overlap ends early."""
        self.check_kept(request)
        current = request.current
        self.accept_only(request, self._owned(request, current), (current,))
        return self.revoked(current)

    def _owned(self, request: StepRequest[_S], *logins: _S) -> Logins[_S]:
        current = request.current
        return lambda: candidates(
            *logins, request.versions.previous_secret, same=lambda login: self.same_credential(login, current)
        )

    @abstractmethod
    def check_pending(self, request: ApplyRequest[_S]) -> None:
        """Refuse a pending value this path could not have made, before anything changes."""

    @abstractmethod
    def check_kept(self, request: RevokeRequest[_S]) -> None:
        """Refuse to keep an AWSCURRENT value this path could not have made, before anything changes."""

    @staticmethod
    @abstractmethod
    def same_credential(login: _S, current: _S) -> bool:
        """Whether ``login`` is a credential of the same user, at the same place, as ``current``."""

    @abstractmethod
    def accept_only(self, request: StepRequest[_S], owned: Logins[_S], keep: tuple[_S, ...]) -> None:
        """The user of ``request.current`` accepts exactly the passwords of ``keep``, once one of ``owned`` proved
        the secret owns it."""

    @abstractmethod
    def revoked(self, current: _S) -> str:
        """What ``revoke_previous`` did, for the operator."""
