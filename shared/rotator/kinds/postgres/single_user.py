"""Single user: the user logs in with AWSCURRENT and changes its own password.

Only when AWSCURRENT is refused does setSecret try the pending password (an earlier attempt already set it) and
AWSPREVIOUS (a crashed rotation or a rollback), each only for the same user, host, port and database. On a
server in recovery (a read replica, an Aurora reader) the user changes its password on the writer of the
database its secret names (``dbInstanceIdentifier`` or ``dbClusterIdentifier``), then setSecret waits for the
replay on the session it opened on the replica before the change, so no login is refused there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rotator.core.strategy import ApplyRequest, GenerateRequest, RevokeRequest, Revokes
from rotator.errors import ForbiddenTargetError, SecretFormatError, TargetRejectedError
from rotator.kinds.postgres.path import PostgresPath
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.postgres.server import PostgresSession
from rotator.observability import logger
from rotator.schemes.ownership import candidates, proven

__all__ = ["SingleUserStrategy"]


class SingleUserStrategy(PostgresPath):
    """One user changes its own password; consumers holding the old one lose it at setSecret (``Revocable``)."""

    def generate(self, request: GenerateRequest[PostgresSecret]) -> str:
        return request.current.with_credentials(password=self.passwords.new(request.secret))

    def revokes(self, request: ApplyRequest[PostgresSecret]) -> Revokes:
        return Revokes.CURRENT

    def revoke_previous(self, request: RevokeRequest[PostgresSecret]) -> str:
        return "nothing to revoke: the previous password stopped working when the current one was set"

    def apply(self, request: ApplyRequest[PostgresSecret]) -> None:
        versions, pending, current = request.versions, request.pending, request.current
        self.passwords.check(pending.password, request.secret, what="pending")

        def same_login(candidate: PostgresSecret | None) -> bool:
            return candidate is not None and (candidate.username, candidate.place) == (pending.username, pending.place)

        if not same_login(current) and not same_login(versions.previous_secret()):
            raise SecretFormatError("pending secret names another user, host or database than current and previous")

        def logins() -> Iterator[PostgresSecret]:  # AWSPREVIOUS is read only when it is reached
            return candidates(current, pending, versions.previous_secret, same=same_login)

        def refused() -> TargetRejectedError:
            return TargetRejectedError(
                f"none of the current, pending or previous passwords of {pending.username} "
                f"log in to {pending.host}:{pending.port}"
            )

        with proven(logins(), self.server.session, refused) as (login, session):
            if session.in_recovery():
                self._apply_on_writer(session, pending, logins)
            else:
                _change_own_password(session, login, pending)

    def _apply_on_writer(
        self, replica: PostgresSession, pending: PostgresSecret, logins: Callable[[], Iterator[PostgresSecret]]
    ) -> None:
        """The secret's server is a read replica: change the password on its writer (the first of ``logins``
        the writer accepts), then wait on ``replica``, a session opened before the change, for the replay."""
        from rotator.kinds.postgres.rds import for_secret

        database = for_secret(pending.connection.field)
        if database is None:
            raise TargetRejectedError(
                f"{pending.host}:{pending.port} is a read replica (in recovery): name its database in the secret "
                "with dbInstanceIdentifier or dbClusterIdentifier, so the password is changed on the writer"
            )
        if not database.serves_reads(pending.server):
            raise ForbiddenTargetError(
                f"{pending.host}:{pending.port} is in recovery but the RDS API lists it as no reader of "
                f"{database.name}: the password is changed only on that database's writer"
            )

        def refused() -> TargetRejectedError:
            return TargetRejectedError(
                f"none of the current, pending or previous passwords of {pending.username} log in to the writer "
                f"{database.writer[0]}:{database.writer[1]} of {database.name}"
            )

        with proven(logins(), lambda login: self.server.session(login.at(database.writer)), refused) as (
            login,
            writer,
        ):
            _change_own_password(writer, login, pending)
            self.await_reader(replica, writer, pending, aurora=database.aurora)


def _change_own_password(session: PostgresSession, login: PostgresSecret, pending: PostgresSecret) -> None:
    if login is pending:
        logger.info("pending password already set", extra={"db_user": pending.username})
    else:
        session.set_password(pending.username, pending.password)
