"""Alternating users: the pending secret names the other user of a pair (``app`` ↔ ``app_clone``), and a master
changes that user's password while consumers keep using the current one.

Before the master is used the rotation proves the secret owns the pair by logging in with it
(``rotator.schemes.ownership``); the master must be the secret's own server or the writer of a database the
secret's server reads from (``rotator.kinds.postgres.master``); the master's own user and roles with SUPERUSER,
REPLICATION or BYPASSRLS are never changed or cloned. The master creates the clone if it is missing, re-syncs
its attributes and memberships from the base user on every rotation, and sets the password. On a reader, the
proof's session stays open across the change: it is the one that waits for the replay.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from rotator.core.strategy import ApplyRequest, GenerateRequest, RevokeRequest, Revokes, VerifyRequest
from rotator.core.versions import VersionReader
from rotator.errors import SecretFormatError, TargetRejectedError
from rotator.generation import generate_password
from rotator.kinds.postgres.master import master_for
from rotator.kinds.postgres.path import PostgresPath
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.postgres.server import PostgresServer, PostgresSession
from rotator.observability import logger
from rotator.schemes.alternating import AlternatingPair
from rotator.schemes.ownership import candidates, proven
from rotator.schemes.passwords import Passwords

__all__ = ["AlternatingUsersStrategy"]

_MAX_IDENTIFIER_BYTES = 63


class AlternatingUsersStrategy(PostgresPath):
    """Two users take turns; the master sets the next one's password (``Revocable``: AWSPREVIOUS's user)."""

    def __init__(self, server: PostgresServer, passwords: Passwords, master_arn: str) -> None:
        super().__init__(server, passwords)
        self.master_arn = master_arn
        self.pair = AlternatingPair(server.settings.clone_suffix, _MAX_IDENTIFIER_BYTES)

    def generate(self, request: GenerateRequest[PostgresSecret]) -> str:
        current = request.current
        partner = self.pair.partner(current.username)
        return current.with_credentials(username=partner, password=self.passwords.new(request.secret))

    def revokes(self, request: ApplyRequest[PostgresSecret]) -> Revokes:
        return Revokes.PREVIOUS

    def apply(self, request: ApplyRequest[PostgresSecret]) -> None:
        versions, pending, current = request.versions, request.pending, request.current
        self.passwords.check(pending.password, request.secret, what="pending")
        users = self.pair.users(current.username)
        if pending.username not in users or pending.place != current.place:
            raise SecretFormatError("pending secret names a user, host or database outside the alternating pair")
        master = master_for(versions, self.master_arn, current, users)
        with self._owner_session(current, pending, versions) as (proof, session):
            if proof is pending:
                logger.info("pending password already set", extra={"db_user": pending.username})
                return
            with self.server.session(master.login, as_master=True) as privileged:
                privileged.refuse_privileged(users, pending.username)
                privileged.sync_clone(*users)
                privileged.set_password(pending.username, pending.password)
                if master.on_reader:
                    self.await_reader(session, privileged, pending, aurora=master.aurora)

    def writer_of(self, request: VerifyRequest[PostgresSecret]) -> tuple[str, int] | None:
        """The master's server, when the secret's server is one of its readers."""
        current = request.current
        master = master_for(request.versions, self.master_arn, current, self.pair.users(current.username))
        return master.login.server if master.on_reader else None

    def revoke_previous(self, request: RevokeRequest[PostgresSecret]) -> str:
        """The master sets AWSPREVIOUS's user a random password nobody keeps."""
        current, previous, versions = request.current, request.previous, request.versions
        if previous is None or previous.username == current.username:
            return "nothing to revoke: the previous password stopped working when the current one was set"
        users = self.pair.users(current.username)
        if not self.pair.same_pair(previous.username, current.username) or previous.place != current.place:
            raise SecretFormatError("AWSPREVIOUS names a user, host or database outside the alternating pair")
        master = master_for(versions, self.master_arn, current, users)
        with self._owner_session(current, current, versions), self.server.session(master.login, as_master=True) as db:
            db.refuse_privileged(users, previous.username)
            db.set_password(previous.username, generate_password(self.passwords.policy))  # nobody keeps it
        return f"previous user {previous.username} given an unknown password"

    def _owner_session(
        self, current: PostgresSecret, pending: PostgresSecret, versions: VersionReader[PostgresSecret]
    ) -> AbstractContextManager[tuple[PostgresSecret, PostgresSession]]:
        """A session on the secret's server, opened with a login of the pair the secret holds, before the master
        acts: AWSCURRENT, else the pending value or AWSPREVIOUS of the same pair, server and database."""

        def same_pair(login: PostgresSecret) -> bool:
            return self.pair.same_pair(login.username, current.username) and login.place == current.place

        def refused() -> TargetRejectedError:
            return TargetRejectedError(
                f"cannot prove the secret owns {self.pair.base(current.username)}: none of its current, previous or "
                f"pending logins is accepted by {current.host}:{current.port}; the master secret was not used"
            )

        logins = candidates(current, pending, versions.previous_secret, same=same_pair)
        return proven(logins, self.server.session, refused)
