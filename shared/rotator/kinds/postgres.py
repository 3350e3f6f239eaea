"""PostgreSQL credentials: single user or alternating users, zero downtime, ownership proven first.

Secrets are a connection URL (``postgresql[+driver]://`` or ``postgres://``,
every query parameter kept) or RDS-style JSON (``engine``, ``host``, ``port``,
``username``, ``password``, ``dbname``, optional ``masterarn`` and ``ssl``;
every other field kept), the format AWS's own rotation functions read.

* **Single user** (no master secret): the user logs in with AWSCURRENT and
  changes its own password. Only when AWSCURRENT is refused does setSecret try
  the pending password (an earlier attempt already set it) and AWSPREVIOUS (a
  crashed rotation or a rollback), each only for the same user, host, port and
  database.
* **Alternating users** (``masterarn`` in the secret, or
  ``ROTATION_POSTGRES_MASTER_SECRET_ARN``): the pending secret names the other
  user of a pair (``app`` ↔ ``app_clone``). Before the master is used the
  rotation proves it owns the pair by logging in with AWSCURRENT (or, after a
  crash, AWSPREVIOUS or the pending value of the same pair); the master must
  be the secret's own server; the master's own user and roles with SUPERUSER,
  REPLICATION or BYPASSRLS are never changed or cloned. The master creates the
  clone if it is missing, re-syncs its attributes and memberships from the
  base user on every rotation, and sets the password.
* **Read replicas and Aurora readers**: a secret that points at a reader is
  changed on its writer and tested where it points. The writer is the
  master's server when the RDS API lists the secret's server as one of that
  database's readers; a single user on a server in recovery finds its writer
  through the secret's ``dbInstanceIdentifier`` or ``dbClusterIdentifier``.
  setSecret then waits, bounded, until the replica has replayed the change
  (``pg_last_wal_replay_lsn``), on a session opened before it, so no login is
  refused; testSecret waits too when it finds the replica still behind.

Connections insist on SCRAM-SHA-256 (``require_auth``; md5 only by opt-in,
cleartext never), with channel binding whenever TLS is on. ``require`` and
``verify-ca`` are verified as ``verify-full`` unless
``ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS`` allows them; the master is always
``verify-full`` against the configured CA. Passwords are sent as SCRAM
verifiers computed client-side (libpq ``PQencryptPasswordConn``); identifiers
are always quoted with ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rotator import constants as c
from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.consumer_guard import Revokes
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    ForbiddenTargetError,
    PolicyError,
    SecretFormatError,
    TargetBusyError,
    TargetRejectedError,
    TargetUnreachableError,
    VerificationError,
)
from rotator.generation import generate_password, meets_policy
from rotator.observability import logger
from rotator.settings import Settings, ca_bundle, env_arns, env_bool, env_int, permitted_arn
from rotator.strategy import ApplyRequest, GenerateRequest, RevokeRequest, Strategy, VerifyRequest
from rotator.timings import timed
from rotator.versions import VersionReader

if TYPE_CHECKING:  # psycopg is imported by the steps that reach the database, not at cold start
    import psycopg

    from rotator.rds_topology import RdsDatabase

    Connection = psycopg.Connection[tuple[Any, ...]]

__all__ = [
    "DEFAULT_PORT",
    "KIND",
    "PostgresSecret",
    "PostgresSettings",
    "PostgresStrategy",
    "SCHEMES",
    "STRATEGY",
]

KIND = "postgres"
SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_PORT = 5432
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
_VERIFYING = frozenset({"verify-ca", "verify-full"})
_MAX_IDENTIFIER_BYTES = 63
_PRIVILEGES = ("SUPERUSER", "REPLICATION", "BYPASSRLS")
_REPLICA_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class PostgresSettings:
    """The postgres kind's configuration."""

    master_arn: str | None = None
    allowed_master_arns: frozenset[str] = frozenset()
    clone_suffix: str = "_clone"
    sslmode: str = "verify-full"
    sslrootcert: str = ""
    allow_unverified_tls: bool = False
    allow_md5: bool = False
    connect_timeout: int = 5
    statement_timeout_ms: int = 10_000
    replica_wait_seconds: int = 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PostgresSettings:
        """Read and validate the ``ROTATION_POSTGRES_*`` variables."""
        sslmode = environ.get(c.ENV_POSTGRES_SSLMODE) or "verify-full"
        if sslmode not in _SSLMODES:
            raise ConfigurationError(f"{c.ENV_POSTGRES_SSLMODE} must be one of {', '.join(sorted(_SSLMODES))}")
        suffix = environ.get(c.ENV_POSTGRES_CLONE_SUFFIX) or "_clone"
        if not suffix.replace("_", "").isalnum():
            raise ConfigurationError(f"{c.ENV_POSTGRES_CLONE_SUFFIX} must be letters, digits and underscores")
        return cls(
            master_arn=environ.get(c.ENV_POSTGRES_MASTER_SECRET_ARN) or None,
            allowed_master_arns=env_arns(environ, c.ENV_POSTGRES_MASTER_SECRET_ARN, c.ENV_POSTGRES_MASTER_SECRET_ARNS),
            clone_suffix=suffix,
            sslmode=sslmode,
            sslrootcert=ca_bundle(environ.get(c.ENV_POSTGRES_SSLROOTCERT)),
            allow_unverified_tls=env_bool(environ, c.ENV_POSTGRES_ALLOW_UNVERIFIED_TLS, False),
            allow_md5=env_bool(environ, c.ENV_POSTGRES_ALLOW_MD5, False),
            connect_timeout=env_int(environ, c.ENV_POSTGRES_CONNECT_TIMEOUT, 5, low=1, high=60),
            statement_timeout_ms=env_int(environ, c.ENV_POSTGRES_STATEMENT_TIMEOUT_MS, 10_000, low=100, high=120_000),
            replica_wait_seconds=env_int(environ, c.ENV_POSTGRES_REPLICA_WAIT_SECONDS, 20, low=1, high=50),
        )


@dataclass(frozen=True)
class PostgresSecret(LoginSecret):
    """A PostgreSQL login: where, who, and how to reach it safely."""

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> PostgresSecret:
        """Parse a URL or RDS-style JSON; user and password are required."""
        connection = ConnectionSecret.parse(text, schemes=SCHEMES, default_port=DEFAULT_PORT, what=what)
        engine = connection.field("engine")
        if connection.is_json and engine is not None and engine not in ("postgres", "postgresql", "aurora-postgresql"):
            raise SecretFormatError(f"{what} is for engine {engine!r}, not postgres")
        if not connection.username:
            raise SecretFormatError(f"{what} has no username")
        if connection.password is None:
            raise SecretFormatError(f"{what} has no password")
        secret = cls(connection)
        sslmode = connection.options.get("sslmode")
        if sslmode is not None and sslmode not in _SSLMODES:
            raise SecretFormatError(f"{what} has an unknown sslmode")
        if connection.is_json and connection.field("ssl") is not None and secret.ssl_flag is None:
            raise SecretFormatError(f"{what} field 'ssl' must be true or false")
        return secret

    def __repr__(self) -> str:
        return f"PostgresSecret(user={self.username!r}, host={self.host!r}, port={self.port}, dbname={self.dbname!r})"

    @property
    def username(self) -> str:
        return self.connection.username or ""

    @property
    def dbname(self) -> str:
        return self.connection.database or "postgres"

    @property
    def master_arn(self) -> str | None:
        value = self.connection.field("masterarn")
        return value if isinstance(value, str) and value else None

    @property
    def ssl_flag(self) -> bool | None:
        """The AWS sample functions' ``"ssl"`` field: a bool or ``"true"``/``"false"`` (None when absent or neither)."""
        value = self.connection.field("ssl")
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return None

    @property
    def sslmode(self) -> str | None:
        """The TLS mode the secret asks for: ``sslmode``, else ``"ssl"`` (true: verify-full, false: disable)."""
        mode = self.connection.options.get("sslmode")
        if mode is not None:
            return mode
        flag = self.ssl_flag
        return None if flag is None else ("verify-full" if flag else "disable")

    @property
    def server(self) -> tuple[str, int]:
        """Host and port: the server this login is for."""
        return (self.host.lower(), self.port)

    @property
    def place(self) -> tuple[str, int, str]:
        """Host, port and database: what must not change across a rotation."""
        return (*self.server, self.dbname)

    def with_credentials(self, *, username: str | None = None, password: str | None = None) -> str:
        return self.connection.with_credentials(username=username, password=password)

    def at(self, server: tuple[str, int]) -> PostgresSecret:
        """The same login at another server (a replica's writer): to connect with, never stored."""
        return PostgresSecret(replace(self.connection, host=server[0], port=server[1]))


class PostgresStrategy(Strategy[PostgresSecret]):
    """Changes PostgreSQL role passwords; alternates users when a master secret is configured."""

    KIND = KIND
    SECRET = PostgresSecret

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.pg = PostgresSettings.from_env(settings.environ)

    # createSecret -----------------------------------------------------------------

    def generate(self, request: GenerateRequest[PostgresSecret]) -> str:
        current = request.current
        password = generate_password(self.settings.password_policy)
        if self._master_arn(current) is None:
            return current.with_credentials(password=password)
        return current.with_credentials(username=self._partner(current.username), password=password)

    # setSecret --------------------------------------------------------------------

    def apply(self, request: ApplyRequest[PostgresSecret]) -> None:
        versions, pending, current = request.versions, request.pending, request.current
        if not meets_policy(pending.password, self.settings.password_policy):
            raise PolicyError("pending password does not meet the generation policy: createSecret did not make it")
        master_arn = self._master_arn(current)
        if master_arn is None:
            self._apply_single_user(pending, current, versions)
        else:
            self._apply_alternating(pending, current, master_arn, versions)

    def revokes(self, request: ApplyRequest[PostgresSecret]) -> Revokes:
        """Single user: the current password; alternating users: the previous user's password."""
        return Revokes.CURRENT if self._master_arn(request.current) is None else Revokes.PREVIOUS

    def revoke_previous(self, request: RevokeRequest[PostgresSecret]) -> str:
        """Alternating users: the master sets AWSPREVIOUS's user a random password nobody keeps."""
        current, previous, versions = request.current, request.previous, request.versions
        master_arn = self._master_arn(current)
        if master_arn is None or previous is None or previous.username == current.username:
            return "nothing to revoke: the previous password stopped working when the current one was set"
        base = self._base(current.username)
        if self._base(previous.username) != base or previous.place != current.place:
            raise SecretFormatError("AWSPREVIOUS names a user, host or database outside the alternating pair")
        master, _ = self._master(versions, master_arn, current, base)
        with self._owner_session(current, current, versions, base), self._connect(master, as_master=True) as conn:
            self._refuse_privileged(conn, base, base + self.pg.clone_suffix, previous)
            unknown = generate_password(self.settings.password_policy)
            self._set_password(conn, previous.username, unknown, previous)
        return f"previous user {previous.username} given an unknown password"

    def _apply_single_user(
        self, pending: PostgresSecret, current: PostgresSecret, versions: VersionReader[PostgresSecret]
    ) -> None:
        def same_login(candidate: PostgresSecret | None) -> bool:
            return candidate is not None and (candidate.username, candidate.place) == (pending.username, pending.place)

        if not same_login(current) and not same_login(versions.previous_secret()):
            raise SecretFormatError("pending secret names another user, host or database than current and previous")

        # AWSCURRENT first: on a healthy rotation no login is refused (and AWSPREVIOUS is never read). The
        # pending password (set by an earlier attempt) and AWSPREVIOUS (a crash or rollback) come only after a
        # refusal.
        def logins() -> Iterator[PostgresSecret]:  # AWSPREVIOUS is read only when it is reached
            return (login for login in _candidates(current, pending, versions.previous_secret) if same_login(login))

        for login in logins():
            try:
                with self._connect(login) as conn:
                    if self._in_recovery(conn):
                        self._apply_on_writer(conn, pending, logins)
                    else:
                        self._change_own_password(conn, login, pending)
                    return
            except AuthenticationError:
                continue
        raise TargetRejectedError(
            f"none of the current, pending or previous passwords of {pending.username} "
            f"log in to {pending.host}:{pending.port}"
        )

    def _change_own_password(self, conn: Connection, login: PostgresSecret, pending: PostgresSecret) -> None:
        if login is pending:
            logger.info("pending password already set", extra={"db_user": pending.username})
        else:
            self._set_password(conn, pending.username, pending.password, pending)

    def _apply_on_writer(
        self, replica: Connection, pending: PostgresSecret, logins: Callable[[], Iterator[PostgresSecret]]
    ) -> None:
        """The secret's server is a read replica: change the password on its writer (the first of ``logins``
        the writer accepts), then wait on ``replica``, a session opened before the change, for the replay."""
        from rotator.rds_topology import for_secret

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
        for login in logins():
            try:
                with self._connect(login.at(database.writer)) as conn:
                    self._change_own_password(conn, login, pending)
                    position = self._wal_position(conn)
                break
            except AuthenticationError:
                continue
        else:
            raise TargetRejectedError(
                f"none of the current, pending or previous passwords of {pending.username} log in to the writer "
                f"{database.writer[0]}:{database.writer[1]} of {database.name}"
            )
        self._await_replay(replica, position, pending)

    def _apply_alternating(
        self, pending: PostgresSecret, current: PostgresSecret, master_arn: str, versions: VersionReader[PostgresSecret]
    ) -> None:
        base = self._base(current.username)
        clone = base + self.pg.clone_suffix
        if pending.username not in (base, clone) or pending.place != current.place:
            raise SecretFormatError("pending secret names a user, host or database outside the alternating pair")
        master, on_reader = self._master(versions, master_arn, current, base)
        # On a reader the proof's session stays open across the change: it is the one that waits for the replay.
        with self._owner_session(current, pending, versions, base) as (proof, session):
            if proof is pending:
                logger.info("pending password already set", extra={"db_user": pending.username})
                return
            with self._connect(master, as_master=True) as conn:
                self._refuse_privileged(conn, base, clone, pending)
                self._ensure_clone(conn, base, clone, pending)
                self._set_password(conn, pending.username, pending.password, pending)
                position = self._wal_position(conn) if on_reader else ""
            if on_reader:
                self._await_replay(session, position, pending)

    def _master(
        self, versions: VersionReader[PostgresSecret], master_arn: str, current: PostgresSecret, base: str
    ) -> tuple[PostgresSecret, bool]:
        """The master login, never for a user of the pair, and whether the secret's server is a reader of the
        master's server (else it is that server itself)."""
        master, database = self._parse_master(versions, master_arn, current)
        if master.username in (base, base + self.pg.clone_suffix):
            raise ForbiddenTargetError(
                f"{master.username} is the master secret's own user: never changed by a rotation"
            )
        if master.server == current.server:
            return master, False
        from rotator.rds_topology import for_secret

        database = database or for_secret(current.connection.field)
        if database is None or database.writer != master.server or not database.serves_reads(current.server):
            raise ForbiddenTargetError(
                f"the master secret is for {master.host}:{master.port}, not the secret's server "
                f"{current.host}:{current.port}, and the RDS API lists no reader of the master's database there: "
                "the master is used only on its own server and its readers"
            )
        return master, True

    @staticmethod
    def _parse_master(
        versions: VersionReader[PostgresSecret], master_arn: str, current: PostgresSecret
    ) -> tuple[PostgresSecret, RdsDatabase | None]:
        """The master login; an RDS-managed master (``username`` and ``password`` only) gets its writer's address
        from its system tags and the RDS API (the database is returned too), and the secret's database. Its
        AWSCURRENT is read on every step: RDS rotates it on its own schedule."""
        import json

        from rotator.codecs import looks_like_json

        text = versions.other(master_arn).text
        try:
            document = json.loads(text) if looks_like_json(text) else None
        except ValueError:
            document = None  # the parser below names what is wrong with it
        if not isinstance(document, dict) or "host" in document:
            return PostgresSecret.parse(text, what="master secret"), None
        from rotator.rds_topology import for_tags

        database = for_tags(versions.describe_other(master_arn).tags)
        host, port = database.writer
        resolved = {**document, "host": host, "port": port, "dbname": current.dbname}
        return PostgresSecret.parse(json.dumps(resolved), what="master secret"), database

    @contextmanager
    def _owner_session(
        self, current: PostgresSecret, pending: PostgresSecret, versions: VersionReader[PostgresSecret], base: str
    ) -> Iterator[tuple[PostgresSecret, Connection]]:
        """A session on the secret's server opened with the login that shows the secret holds a working password
        of the pair, before the master acts; yields that login and the session.

        AWSCURRENT first; after a crash or a rollback AWSPREVIOUS or the pending value, each only when it
        names the same pair on the same server and database (the secret's own version history).
        """
        for login in _candidates(current, versions.previous_secret, pending):
            if self._base(login.username) != base or login.place != current.place:
                continue
            with ExitStack() as stack:
                try:
                    session = stack.enter_context(self._connect(login))
                except AuthenticationError:
                    continue
                yield login, session
                return
        raise TargetRejectedError(
            f"cannot prove the secret owns {base}: none of its current, previous or pending logins is accepted by "
            f"{current.host}:{current.port}; the master secret was not used"
        )

    # testSecret -------------------------------------------------------------------

    def verify(self, request: VerifyRequest[PostgresSecret]) -> None:
        import time

        pending, deadline = request.pending, time.monotonic() + self.pg.replica_wait_seconds
        while True:
            try:
                return self._log_in_as(pending)
            except AuthenticationError as exc:
                # On a replica still behind its writer (a setSecret that did not see the replay) wait, bounded.
                if time.monotonic() >= deadline or not self._replica_behind(request.current):
                    raise VerificationError(
                        f"pending credentials of {pending.username} do not log in to {pending.host}"
                    ) from exc
                time.sleep(_REPLICA_POLL_SECONDS)

    def _replica_behind(self, current: PostgresSecret) -> bool:
        """Whether the secret's server is a replica (AWSCURRENT still logs in there and it is in recovery)."""
        try:
            with self._connect(current) as conn:
                return self._in_recovery(conn)
        except AuthenticationError:
            return False

    def _log_in_as(self, pending: PostgresSecret) -> None:
        import psycopg

        try:
            with self._connect(pending) as conn, timed("postgres", "SELECT current_user"):
                row = conn.execute("SELECT current_user, 1").fetchone()
        except psycopg.Error as exc:
            raise VerificationError(f"test query as {pending.username} failed: SQLSTATE {exc.sqlstate}") from exc
        if row is None or row[0] != pending.username:
            raise VerificationError(f"pending credentials log in as another user than {pending.username}")

    def rollback_note(self, current: PostgresSecret, previous: PostgresSecret) -> str | None:
        if current.username == previous.username:
            raise PolicyError(
                "this secret rotates a single PostgreSQL user: the AWSPREVIOUS password no longer works, so rolling "
                "back would lock the application out. Rotate again instead (`rotation rotate`)."
            )
        return None

    # helpers ----------------------------------------------------------------------

    def _master_arn(self, current: PostgresSecret) -> str | None:
        return permitted_arn(
            current.master_arn, self.pg.master_arn, self.pg.allowed_master_arns, field="masterarn",
            role="a master secret", variable=c.ENV_POSTGRES_MASTER_SECRET_ARNS, parameter="PostgresMasterSecretArns",
        )  # fmt: skip

    def _base(self, username: str) -> str:
        suffix = self.pg.clone_suffix
        return username[: -len(suffix)] if username.endswith(suffix) and len(username) > len(suffix) else username

    def _partner(self, username: str) -> str:
        base = self._base(username)
        partner = base if username != base else base + self.pg.clone_suffix
        if len(partner.encode()) > _MAX_IDENTIFIER_BYTES:
            raise SecretFormatError(f"alternate user name for {base} would exceed {_MAX_IDENTIFIER_BYTES} bytes")
        return partner

    def _tls(self, secret: PostgresSecret, *, as_master: bool) -> tuple[str, str]:
        """The sslmode to connect with and the mode the secret asked for (for error messages)."""
        asked = secret.sslmode or self.pg.sslmode
        if as_master:
            return "verify-full", asked  # a man-in-the-middle must never see the master's session
        if asked == "disable":
            return asked, asked
        if asked in ("allow", "prefer"):
            asked = "require"  # libpq would fall back to plaintext silently; the rotator never does
        if asked in ("require", "verify-ca") and not self.pg.allow_unverified_tls:
            return "verify-full", asked
        return asked, asked

    @staticmethod
    def _in_recovery(conn: Connection) -> bool:
        """Whether this session's server is a standby: a read replica or an Aurora reader."""
        with timed("postgres", "pg_is_in_recovery"):
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        return bool(row and row[0])

    @staticmethod
    def _wal_position(conn: Connection) -> str:
        """The writer's WAL position, just after a change a replica must replay."""
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0]) if row else ""

    def _await_replay(self, replica: Connection, position: str, pending: PostgresSecret) -> None:
        """Wait, bounded, until the replica behind ``replica`` has replayed its writer's WAL up to ``position``."""
        import time

        wait = self.pg.replica_wait_seconds
        deadline = time.monotonic() + wait
        with timed("postgres", "wait for replica"):
            while True:
                row = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)).fetchone()
                if row is None or row[0] is None:
                    logger.warning("the replica reports no replay position: testSecret waits for the password")
                    return
                if row[0]:
                    logger.info("replica replayed the change", extra={"db_host": pending.host})
                    return
                if time.monotonic() >= deadline:
                    raise TargetBusyError(
                        f"the read replica {pending.host}:{pending.port} has not replayed the password change after "
                        f"{wait} s; the change is made on the writer and Secrets Manager retries"
                    )
                time.sleep(_REPLICA_POLL_SECONDS)

    @contextmanager
    def _connect(self, secret: PostgresSecret, *, as_master: bool = False) -> Iterator[Connection]:
        sslmode, asked = self._tls(secret, as_master=as_master)
        if sslmode == "disable":
            logger.warning("connecting without TLS (sslmode=disable in the secret or configuration)")
        timeout = self.pg.statement_timeout_ms
        params: dict[str, object] = {
            "host": secret.host,
            "port": secret.port,
            "user": secret.username,
            "password": secret.password,
            "dbname": secret.dbname,
            "sslmode": sslmode,
            # A server (or a man-in-the-middle) asking for a cleartext or md5 password gets nothing.
            "require_auth": "scram-sha-256,md5" if self.pg.allow_md5 else "scram-sha-256",
            "connect_timeout": self.pg.connect_timeout,
            "application_name": "secret-rotation",
            "options": f"-c statement_timeout={timeout} -c lock_timeout={timeout}",
        }
        if sslmode != "disable":
            params["channel_binding"] = "prefer" if self.pg.allow_md5 else "require"
        if sslmode in _VERIFYING:
            own = None if as_master else secret.connection.options.get("sslrootcert")
            params["sslrootcert"] = own or self.pg.sslrootcert
        where = f"{secret.host}:{secret.port} as {secret.username}"
        import psycopg

        try:
            with timed("postgres", "connect"):
                conn = psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            pgconn = getattr(exc, "pgconn", None)
            if pgconn is not None and pgconn.used_password:
                raise AuthenticationError(f"PostgreSQL at {where} refused the password") from exc
            upgraded = (
                f" (the secret asks for sslmode={asked}, verified as verify-full: set "
                f"{c.ENV_POSTGRES_ALLOW_UNVERIFIED_TLS}=true to accept an unverified certificate)"
                if asked != sslmode and not as_master
                else ""
            )
            raise TargetUnreachableError(
                f"cannot connect to PostgreSQL at {where} (sslmode={sslmode}): connection, timeout or TLS "
                f"verification failed, or the server offered no SCRAM-SHA-256 authentication with channel "
                f"binding{upgraded}"
            ) from exc
        try:
            yield conn
        except psycopg.Error as exc:
            if exc.sqlstate is None:
                raise TargetUnreachableError(f"lost the connection to PostgreSQL at {where}") from exc
            raise TargetRejectedError(f"PostgreSQL at {where} refused a statement: SQLSTATE {exc.sqlstate}") from exc
        finally:
            conn.close()

    @staticmethod
    def _refuse_privileged(conn: Connection, base: str, clone: str, pending: PostgresSecret) -> None:
        """Never change or clone the master's own role or a role that can bypass the server's protections."""
        with timed("postgres", "check roles"):
            return PostgresStrategy._check_roles(conn, base, clone, pending)

    @staticmethod
    def _check_roles(conn: Connection, base: str, clone: str, pending: PostgresSecret) -> None:
        row = conn.execute("SELECT session_user::text, current_user::text").fetchone()
        if row is not None and ({str(row[0]), str(row[1])} & {base, clone}):
            raise ForbiddenTargetError(f"{pending.username} is the master's own user: a rotation never changes it")
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname IN (%s, %s)",
            (base, clone),
        ).fetchall()
        for name, *flags in rows:
            held = [privilege for privilege, flag in zip(_PRIVILEGES, flags, strict=True) if flag]
            if held:
                raise ForbiddenTargetError(
                    f"role {name} on {pending.host} has {', '.join(held)}: a rotation never changes or clones it"
                )

    @staticmethod
    def _set_password(conn: Connection, username: str, password: str, secret: PostgresSecret) -> None:
        from psycopg import sql

        # Only the SCRAM verifier crosses the wire and can reach the server log.
        verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
        statement = sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(username), sql.Literal(verifier))
        with timed("postgres", "ALTER ROLE PASSWORD"):
            conn.execute(statement)
        logger.info("password set", extra={"db_user": username, "db_host": secret.host})

    def _ensure_clone(self, conn: Connection, base: str, clone: str, pending: PostgresSecret) -> None:
        """Create the clone if missing; align its attributes and memberships with the base user's."""
        with timed("postgres", "sync alternate user"):
            self._sync_clone(conn, base, clone, pending)

    def _sync_clone(self, conn: Connection, base: str, clone: str, pending: PostgresSecret) -> None:
        from psycopg import sql

        attrs = conn.execute(
            "SELECT rolinherit, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = %s", (base,)
        ).fetchone()
        if attrs is None:
            raise TargetRejectedError(f"base user {base} does not exist on {pending.host}")
        inherit, createdb, createrole, connlimit = attrs
        options = sql.SQL(" ").join(
            [
                sql.SQL("LOGIN"),
                sql.SQL("INHERIT" if inherit else "NOINHERIT"),
                sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(str(connlimit)))),
            ]
        )
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (clone,)).fetchone() is not None
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} WITH {}").format(sql.Identifier(clone), options))
        if not exists:
            logger.info("created alternate user", extra={"db_user": clone, "db_host": pending.host})
        wanted = set(self._memberships(conn, base)) | {base}
        have = set(self._memberships(conn, clone))
        for role in sorted(wanted - have):
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(clone)))
        for role in sorted(have - wanted):
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(clone)))
        if wanted != have:
            logger.info(
                "synced memberships",
                extra={"db_user": clone, "granted": sorted(wanted - have), "revoked": sorted(have - wanted)},
            )

    @staticmethod
    def _memberships(conn: Connection, role: str) -> list[str]:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (role,),
        ).fetchall()
        return [str(row[0]) for row in rows]


def _candidates(
    *logins: PostgresSecret | Callable[[], PostgresSecret | None],
) -> Iterator[PostgresSecret]:
    """Logins in order; a callable (AWSPREVIOUS) is read only when the ones before it were refused."""
    for login in logins:
        value = login() if callable(login) else login
        if value is not None:
            yield value


STRATEGY = PostgresStrategy
