"""What both PostgreSQL paths share: the server adapter, the passwords, testSecret, the replica wait."""

from __future__ import annotations

from rotator.core.strategy import Strategy, VerifyRequest
from rotator.errors import AuthenticationError, TargetBusyError, TargetRejectedError, VerificationError
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.postgres.server import PostgresServer, PostgresSession
from rotator.kinds.postgres.settings import PostgresSettings
from rotator.observability import logger
from rotator.schemes.passwords import Passwords
from rotator.schemes.waiting import wait_for
from rotator.timings import timed

__all__ = ["PostgresPath"]

_REPLICA_POLL_SECONDS = 0.2


class PostgresPath(Strategy[PostgresSecret]):
    """A path over PostgreSQL servers; testSecret logs in as the pending user, waiting on a lagging replica."""

    def __init__(self, server: PostgresServer, passwords: Passwords) -> None:
        self.server = server
        self.passwords = passwords

    @property
    def settings(self) -> PostgresSettings:
        return self.server.settings

    def verify(self, request: VerifyRequest[PostgresSecret]) -> None:
        pending = request.pending
        on_reader: list[bool] = []

        def logged_in() -> bool | None:
            try:
                with self.server.session(pending) as session:
                    user = session.current_user()
                    if request.is_previous_check:
                        on_reader.append(session.in_recovery())
            except AuthenticationError as exc:
                # On a replica still behind its writer (a setSecret that did not see the replay) wait, bounded.
                if not self._replica_behind(request.current):
                    raise _refused(pending) from exc
                return None
            if user != pending.username:
                raise VerificationError(f"pending credentials log in as another user than {pending.username}")
            return True

        wait_for(logged_in, seconds=self.settings.replica_wait_seconds, poll=_REPLICA_POLL_SECONDS,
                 gave_up=lambda: _refused(pending))  # fmt: skip
        if any(on_reader):
            self._logs_in_on_writer(request)

    def writer_of(self, request: VerifyRequest[PostgresSecret]) -> tuple[str, int] | None:
        """The writer of the reader the secret names, from the RDS API (the secret's database identifier)."""
        from rotator.kinds.postgres.rds import for_secret

        database = for_secret(request.current.connection.field)
        return None if database is None else database.writer

    def _logs_in_on_writer(self, request: VerifyRequest[PostgresSecret]) -> None:
        """Before a rollback to AWSPREVIOUS on a reader: its login must work on the writer too. A reader that has
        not yet replayed the writer's change (``revoke-previous`` a moment ago) still accepts a password the writer
        already refuses, and will refuse it as soon as it catches up."""
        previous = request.pending
        writer = self.writer_of(request)
        if writer is None:
            raise VerificationError(
                f"{previous.host}:{previous.port} is a reader and its writer is unknown (name the database with "
                "dbInstanceIdentifier or dbClusterIdentifier): AWSPREVIOUS cannot be proven where it is decided"
            )
        try:
            with self.server.session(previous.at(writer)) as session:
                user = session.current_user()
        except AuthenticationError:
            raise VerificationError(
                f"AWSPREVIOUS's {previous.username} no longer logs in to the writer {writer[0]}:{writer[1]}; its "
                f"reader {previous.host}:{previous.port} has not replayed that yet and will refuse it too"
            ) from None
        if user != previous.username:
            raise VerificationError(f"AWSPREVIOUS logs in to the writer as another user than {previous.username}")

    def _replica_behind(self, current: PostgresSecret) -> bool:
        """Whether the secret's server is a replica (AWSCURRENT still logs in there and it is in recovery)."""
        try:
            with self.server.session(current) as session:
                return session.in_recovery()
        except AuthenticationError:
            return False

    def await_reader(
        self, replica: PostgresSession, writer: PostgresSession, pending: PostgresSecret, *, aurora: bool
    ) -> None:
        """After a change on ``writer``: wait, bounded, until the reader behind ``replica`` has it.

        A streaming replica is waited for by WAL position. An Aurora reader replays no WAL (the RDS API's engine
        says so, or the server has ``aurora_version()``), and a writer that gives no WAL position is treated the
        same: there the wait is a bounded login on the reader with the pending password. Nothing that can fail
        after the change is left without this way to converge.
        """
        if aurora or writer.is_aurora():
            self._await_login(pending)
            return
        try:
            position = writer.wal_position()
        except TargetRejectedError:
            logger.warning("the writer gives no WAL position: waiting for the pending login on the reader instead")
            self._await_login(pending)
            return
        self.await_replay(replica, position, pending)

    def _await_login(self, pending: PostgresSecret) -> None:
        def accepted() -> bool | None:
            try:
                with self.server.session(pending):
                    return True
            except AuthenticationError:
                return None

        with timed("postgres", "wait for reader login"):
            wait_for(accepted, seconds=self.settings.replica_wait_seconds, poll=_REPLICA_POLL_SECONDS,
                     gave_up=lambda: _still_behind(pending, self.settings.replica_wait_seconds))  # fmt: skip
        logger.info("the reader accepts the pending password", extra={"db_host": pending.host})

    def await_replay(self, replica: PostgresSession, position: str, pending: PostgresSecret) -> None:
        """Wait, bounded, until the standby behind ``replica`` has replayed its writer's WAL up to ``position``."""
        wait = self.settings.replica_wait_seconds

        def replayed() -> bool | None:
            done = replica.replayed(position)
            if done is None:
                logger.warning("the replica reports no replay position: testSecret waits for the password")
                return True
            return True if done else None

        with replica.waiting("wait for replica"):
            wait_for(replayed, seconds=wait, poll=_REPLICA_POLL_SECONDS, gave_up=lambda: _still_behind(pending, wait))
        logger.info("replica replayed the change", extra={"db_host": pending.host})


def _still_behind(pending: PostgresSecret, wait: int) -> TargetBusyError:
    return TargetBusyError(
        f"the read replica {pending.host}:{pending.port} has not replayed the password change after "
        f"{wait} s; the change is made on the writer and Secrets Manager retries"
    )


def _refused(pending: PostgresSecret) -> VerificationError:
    return VerificationError(f"pending credentials of {pending.username} do not log in to {pending.host}")
