"""The PostgreSQL server adapter: connect with the TLS policy, log in, set a password, sync a clone, read the
replication state. No rotation policy lives here; every driver error becomes a typed error here, and only here.

Connections insist on SCRAM-SHA-256 (``require_auth``; md5 only by opt-in, cleartext never), with channel
binding whenever TLS is on. ``require`` and ``verify-ca`` are verified as ``verify-full`` unless
``ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS`` allows them; a master's session is always ``verify-full`` against
the configured CA. Passwords are sent as SCRAM verifiers computed client-side (libpq
``PQencryptPasswordConn``); identifiers are always quoted with ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rotator.errors import (
    AuthenticationError,
    ForbiddenTargetError,
    TargetBusyError,
    TargetRejectedError,
    TargetUnreachableError,
)
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.postgres.settings import ENV_POSTGRES_ALLOW_UNVERIFIED_TLS, PostgresSettings
from rotator.observability import logger
from rotator.schemes.target import TargetClient

if TYPE_CHECKING:  # psycopg is imported by the steps that reach the database, not at cold start
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

__all__ = ["PostgresServer", "PostgresSession"]

_VERIFYING = frozenset({"verify-ca", "verify-full"})
# Another session holds what the statement needs (serialization failure, deadlock, lock_timeout), or the server
# cancelled it at statement_timeout: it changed nothing. Retryable.
_BUSY = frozenset({"40001", "40P01", "55P03", "57014"})
# The catalog row changed under the statement (another session altered the same role at once). Retryable.
_CONCURRENT_UPDATE = "tuple concurrently updated"
_PRIVILEGES = ("SUPERUSER", "REPLICATION", "BYPASSRLS")


class PostgresServer:
    """Opens sessions on PostgreSQL servers under the kind's TLS and authentication policy."""

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings

    def tls(self, secret: PostgresSecret, *, as_master: bool) -> tuple[str, str]:
        """The sslmode to connect with and the mode the secret asked for (for error messages)."""
        asked = secret.sslmode or self.settings.sslmode
        if as_master:
            return "verify-full", asked  # a man-in-the-middle must never see the master's session
        if asked == "disable":
            return asked, asked
        if asked in ("allow", "prefer"):
            asked = "require"  # libpq would fall back to plaintext silently; the rotator never does
        if asked in ("require", "verify-ca") and not self.settings.allow_unverified_tls:
            return "verify-full", asked
        return asked, asked

    @contextmanager
    def session(self, login: PostgresSecret, *, as_master: bool = False) -> Iterator[PostgresSession]:
        """A session as ``login`` (AuthenticationError when the password is refused), closed on exit."""
        session = PostgresSession(self, login, as_master=as_master)
        session.open()
        try:
            yield session
        finally:
            session.close()


class PostgresSession(TargetClient):
    """One authenticated session; each method is one timed call."""

    SERVICE = "postgres"

    def __init__(self, server: PostgresServer, login: PostgresSecret, *, as_master: bool) -> None:
        self.login = login
        self.as_master = as_master
        self.where = f"{login.host}:{login.port} as {login.username}"
        self._settings = server.settings
        self._sslmode, self._asked = server.tls(login, as_master=as_master)
        self._conn: Connection | None = None

    def open(self) -> None:
        import psycopg

        settings, login, sslmode = self._settings, self.login, self._sslmode
        if sslmode == "disable":
            logger.warning("connecting without TLS (sslmode=disable in the secret or configuration)")
        timeout = settings.statement_timeout_ms
        params: dict[str, object] = {
            "host": login.host,
            "port": login.port,
            "user": login.username,
            "password": login.password,
            "dbname": login.dbname,
            "sslmode": sslmode,
            # A server (or a man-in-the-middle) asking for a cleartext or md5 password gets nothing.
            "require_auth": "scram-sha-256,md5" if settings.allow_md5 else "scram-sha-256",
            "connect_timeout": settings.connect_timeout,
            "application_name": "secret-rotation",
            # A lock wait ends first (55P03, busy) so that a statement cancelled by its timeout means slowness.
            "options": f"-c statement_timeout={timeout} -c lock_timeout={max(1, timeout // 2)}",
        }
        if sslmode != "disable":
            params["channel_binding"] = "prefer" if settings.allow_md5 else "require"
        if sslmode in _VERIFYING:
            own = None if self.as_master else login.connection.options.get("sslrootcert")
            params["sslrootcert"] = own or settings.sslrootcert
        with self.call("connect"):
            self._conn = psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def typed_error(self, exc: Exception, operation: str) -> Exception | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        if operation == "connect":
            pgconn = getattr(exc, "pgconn", None)
            if pgconn is not None and pgconn.used_password:
                return AuthenticationError(f"PostgreSQL at {self.where} refused the password")
            upgraded = (
                f" (the secret asks for sslmode={self._asked}, verified as verify-full: set "
                f"{ENV_POSTGRES_ALLOW_UNVERIFIED_TLS}=true to accept an unverified certificate)"
                if self._asked != self._sslmode and not self.as_master
                else ""
            )
            return TargetUnreachableError(
                f"cannot connect to PostgreSQL at {self.where} (sslmode={self._sslmode}): connection, timeout or TLS "
                f"verification failed, or the server offered no SCRAM-SHA-256 authentication with channel "
                f"binding{upgraded}"
            )
        if exc.sqlstate is None:
            return TargetUnreachableError(f"lost the connection to PostgreSQL at {self.where}")
        if exc.sqlstate in _BUSY or (exc.sqlstate == "XX000" and exc.diag.message_primary == _CONCURRENT_UPDATE):
            return TargetBusyError(
                f"PostgreSQL at {self.where}: another session holds or changed what {operation} needs (SQLSTATE "
                f"{exc.sqlstate}); nothing was changed, and the step will be retried"
            )
        return TargetRejectedError(f"PostgreSQL at {self.where} refused a statement: SQLSTATE {exc.sqlstate}")

    # queries ----------------------------------------------------------------------

    def _rows(self, query: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``query`` (inside a ``call``, which types its errors); its rows."""
        assert self._conn is not None
        cursor = self._conn.execute(query, params)
        return cursor.fetchall() if cursor.description is not None else []

    def _value(self, query: Any, params: tuple[Any, ...] = ()) -> Any:
        rows = self._rows(query, params)
        return rows[0][0] if rows else None

    def current_user(self) -> str:
        """The user this session runs as (testSecret's query)."""
        with self.call("SELECT current_user"):
            return str(self._value("SELECT current_user"))

    def in_recovery(self) -> bool:
        """Whether this session's server is a standby: a read replica or an Aurora reader."""
        with self.call("pg_is_in_recovery"):
            return bool(self._value("SELECT pg_is_in_recovery()"))

    def is_aurora(self) -> bool:
        """Whether this server is Aurora PostgreSQL (it has ``aurora_version()``)."""
        with self.call("aurora_version"):
            return bool(self._value("SELECT to_regproc('aurora_version') IS NOT NULL"))

    def wal_position(self) -> str:
        """The writer's WAL position, just after a change a replica must replay."""
        with self.call("pg_current_wal_lsn"):
            return str(self._value("SELECT pg_current_wal_lsn()::text") or "")

    def replayed(self, position: str) -> bool | None:
        """Whether this standby has replayed up to ``position`` (None: it reports no replay position)."""
        value = self._value("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,))
        return None if value is None else bool(value)

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """One timed call around a wait made of several queries (``replayed``)."""
        with self.call(what):
            yield

    def set_password(self, username: str, password: str) -> None:
        """``ALTER ROLE … PASSWORD`` with the SCRAM verifier: the password itself never reaches the server."""
        from psycopg import sql

        assert self._conn is not None
        verifier = self._conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256")
        statement = sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
            sql.Identifier(username), sql.Literal(verifier.decode())
        )
        with self.call("ALTER ROLE PASSWORD"):
            self._rows(statement)
        logger.info("password set", extra={"db_user": username, "db_host": self.login.host})

    def refuse_privileged(self, users: tuple[str, ...], named: str) -> None:
        """Never change or clone the session's own user or a role that can bypass the server's protections."""
        with self.call("check roles"):
            row = self._rows("SELECT session_user::text, current_user::text")[0]
            if {str(row[0]), str(row[1])} & set(users):
                raise ForbiddenTargetError(f"{named} is the master's own user: a rotation never changes it")
            rows = self._rows(
                "SELECT rolname, rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname IN (%s, %s)",
                users,
            )
        for name, *flags in rows:
            held = [privilege for privilege, flag in zip(_PRIVILEGES, flags, strict=True) if flag]
            if held:
                raise ForbiddenTargetError(
                    f"role {name} on {self.login.host} has {', '.join(held)}: a rotation never changes or clones it"
                )

    def sync_clone(self, base: str, clone: str) -> None:
        """Create the clone if missing; align its attributes and memberships with the base user's."""
        with self.call("sync alternate user"):
            self._sync_clone(base, clone)

    def _sync_clone(self, base: str, clone: str) -> None:
        from psycopg import sql

        attrs = self._rows(
            "SELECT rolinherit, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = %s", (base,)
        )
        if not attrs:
            raise TargetRejectedError(f"base user {base} does not exist on {self.login.host}")
        inherit, createdb, createrole, connlimit = attrs[0]
        options = sql.SQL(" ").join(
            [
                sql.SQL("LOGIN"),
                sql.SQL("INHERIT" if inherit else "NOINHERIT"),
                sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(str(connlimit)))),
            ]
        )
        exists = bool(self._rows("SELECT 1 FROM pg_roles WHERE rolname = %s", (clone,)))
        verb = "ALTER" if exists else "CREATE"
        self._rows(sql.SQL(verb + " ROLE {} WITH {}").format(sql.Identifier(clone), options))
        if not exists:
            logger.info("created alternate user", extra={"db_user": clone, "db_host": self.login.host})
        wanted = set(self._memberships(base)) | {base}
        have = set(self._memberships(clone))
        for role in sorted(wanted - have):
            self._rows(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(clone)))
        for role in sorted(have - wanted):
            self._rows(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(clone)))
        if wanted != have:
            logger.info(
                "synced memberships",
                extra={"db_user": clone, "granted": sorted(wanted - have), "revoked": sorted(have - wanted)},
            )

    def _memberships(self, role: str) -> list[str]:
        rows = self._rows(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (role,),
        )
        return [str(row[0]) for row in rows]
