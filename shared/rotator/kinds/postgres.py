"""PostgreSQL credentials: single user or alternating users, zero downtime, no password in clear.

Secrets are a connection URL (``postgresql[+driver]://`` or ``postgres://``,
every query parameter kept) or RDS-style JSON (``engine``, ``host``, ``port``,
``username``, ``password``, ``dbname``, optional ``masterarn``; every other
field kept).

* **Single user** (no master secret): the user logs in and changes its own
  password. setSecret tries the pending password (already set: done), then
  the current one, then AWSPREVIOUS (a crashed or rolled-back rotation).
* **Alternating users** (``masterarn`` in the secret or
  ``ROTATION_POSTGRES_MASTER_SECRET_ARN``): the pending secret names the other
  user of a pair (``app`` ↔ ``app_clone``); the master creates the clone if it
  is missing, re-syncs its attributes and role memberships from the base user
  on every rotation, and sets the password. The previous user keeps working
  until the next rotation.

The password never travels in clear: the SCRAM-SHA-256 verifier is computed
client-side (libpq ``PQencryptPasswordConn``) and only the verifier is sent.
Identifiers are always quoted with ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from rotator import constants as c
from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    SecretFormatError,
    TargetRejectedError,
    TargetUnreachableError,
    VerificationError,
)
from rotator.generation import generate_password
from rotator.observability import logger
from rotator.settings import Settings, env_int
from rotator.strategy import ApplyRequest, GenerateRequest, Strategy, VerifyRequest, VersionReader

__all__ = ["KIND", "STRATEGY", "PostgresSecret", "PostgresSettings", "PostgresStrategy"]

KIND = "postgres"
SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_PORT = 5432
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
_MAX_IDENTIFIER_BYTES = 63


@dataclass(frozen=True)
class PostgresSettings:
    """The postgres kind's configuration."""

    master_arn: str | None = None
    clone_suffix: str = "_clone"
    sslmode: str = "verify-full"
    sslrootcert: str = "system"
    connect_timeout: int = 5
    statement_timeout_ms: int = 10_000

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
            clone_suffix=suffix,
            sslmode=sslmode,
            sslrootcert=environ.get(c.ENV_POSTGRES_SSLROOTCERT) or "system",
            connect_timeout=env_int(environ, c.ENV_POSTGRES_CONNECT_TIMEOUT, 5, low=1, high=60),
            statement_timeout_ms=env_int(environ, c.ENV_POSTGRES_STATEMENT_TIMEOUT_MS, 10_000, low=100, high=120_000),
        )


@dataclass(frozen=True)
class PostgresSecret(LoginSecret):
    """A PostgreSQL login: where, who, and how to reach it safely."""

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> PostgresSecret:
        """Parse a URL or RDS-style JSON; user and password are required."""
        connection = ConnectionSecret.parse(text, schemes=SCHEMES, default_port=DEFAULT_PORT)
        engine = connection.field("engine")
        if connection.is_json and engine is not None and engine not in ("postgres", "postgresql", "aurora-postgresql"):
            raise SecretFormatError(f"{what} is for engine {engine!r}, not postgres")
        if not connection.username:
            raise SecretFormatError(f"{what} has no username")
        if connection.password is None:
            raise SecretFormatError(f"{what} has no password")
        sslmode = connection.options.get("sslmode")
        if sslmode is not None and sslmode not in _SSLMODES:
            raise SecretFormatError(f"{what} has an unknown sslmode")
        return cls(connection)

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
    def place(self) -> tuple[str, int, str]:
        """Host, port and database: what must not change across a rotation."""
        return (self.host.lower(), self.port, self.dbname)

    def with_credentials(self, *, username: str | None = None, password: str | None = None) -> str:
        return self.connection.with_credentials(username=username, password=password)


class PostgresStrategy(Strategy):
    """Changes PostgreSQL role passwords; alternates users when a master secret is configured."""

    KIND = KIND

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.pg = PostgresSettings.from_env(settings.environ)

    # createSecret -----------------------------------------------------------------

    def generate(self, request: GenerateRequest) -> str:
        current = PostgresSecret.parse(request.current.text, what="current secret")
        password = generate_password(self.settings.password_policy)
        if self._master_arn(current) is None:
            return current.with_credentials(password=password)
        return current.with_credentials(username=self._partner(current.username), password=password)

    # setSecret --------------------------------------------------------------------

    def apply(self, request: ApplyRequest) -> None:
        versions = request.versions
        pending = PostgresSecret.parse(versions.pending().text, what="pending secret")
        current = PostgresSecret.parse(versions.current().text, what="current secret")
        master_arn = self._master_arn(current)
        if master_arn is None:
            self._apply_single_user(pending, current, versions)
        else:
            self._apply_alternating(pending, current, master_arn, versions)

    def _apply_single_user(self, pending: PostgresSecret, current: PostgresSecret, versions: VersionReader) -> None:
        previous: list[PostgresSecret] = []  # read only when needed: most rotations never touch it

        def read_previous() -> list[PostgresSecret]:
            if not previous:
                value = versions.previous()
                previous.append(PostgresSecret.parse(value.text, what="previous secret") if value else current)
            return previous

        def same_login(candidate: PostgresSecret) -> bool:
            return candidate.username == pending.username and candidate.place == pending.place

        if not same_login(current) and not same_login(read_previous()[0]):
            raise SecretFormatError("pending secret names another user, host or database than current and previous")
        if self._can_log_in(pending):
            logger.info("pending password already set", extra={"db_user": pending.username, "db_host": pending.host})
            return
        for candidate in (current, None):
            login = candidate or read_previous()[0]
            if (candidate is None and login is current) or not same_login(login):
                continue
            try:
                with self._connect(login) as conn:
                    self._set_password(conn, pending.username, pending.password, pending)
                    return
            except AuthenticationError:
                continue
        raise TargetRejectedError(
            f"none of the pending, current or previous passwords of {pending.username} "
            f"log in to {pending.host}:{pending.port}"
        )

    def _apply_alternating(
        self, pending: PostgresSecret, current: PostgresSecret, master_arn: str, versions: VersionReader
    ) -> None:
        base = self._base(current.username)
        clone = base + self.pg.clone_suffix
        if pending.username not in (base, clone) or pending.place != current.place:
            raise SecretFormatError("pending secret names a user, host or database outside the alternating pair")
        master = PostgresSecret.parse(versions.other(master_arn).text, what="master secret")
        with self._connect(master) as conn:
            self._ensure_clone(conn, base, clone, pending)
            self._set_password(conn, pending.username, pending.password, pending)

    # testSecret -------------------------------------------------------------------

    def verify(self, request: VerifyRequest) -> None:
        pending = PostgresSecret.parse(request.versions.pending().text, what="pending secret")
        try:
            with self._connect(pending) as conn:
                row = conn.execute("SELECT current_user, 1").fetchone()
        except AuthenticationError as exc:
            raise VerificationError(
                f"pending credentials of {pending.username} do not log in to {pending.host}"
            ) from exc
        except psycopg.Error as exc:
            raise VerificationError(f"test query as {pending.username} failed: SQLSTATE {exc.sqlstate}") from exc
        if row is None or row[0] != pending.username:
            raise VerificationError(f"pending credentials log in as another user than {pending.username}")

    def secret_parts(self, text: str) -> Iterable[str]:
        try:
            secret = PostgresSecret.parse(text)
        except SecretFormatError:
            return ()
        return (secret.password,)

    # helpers ----------------------------------------------------------------------

    def _master_arn(self, current: PostgresSecret) -> str | None:
        return current.master_arn or self.pg.master_arn

    def _base(self, username: str) -> str:
        suffix = self.pg.clone_suffix
        return username[: -len(suffix)] if username.endswith(suffix) and len(username) > len(suffix) else username

    def _partner(self, username: str) -> str:
        base = self._base(username)
        partner = base if username != base else base + self.pg.clone_suffix
        if len(partner.encode()) > _MAX_IDENTIFIER_BYTES:
            raise SecretFormatError(f"alternate user name for {base} would exceed {_MAX_IDENTIFIER_BYTES} bytes")
        return partner

    def _sslmode(self, secret: PostgresSecret) -> str:
        sslmode = secret.connection.options.get("sslmode") or self.pg.sslmode
        # libpq's allow/prefer fall back to plaintext silently; the rotator never does.
        return "require" if sslmode in ("allow", "prefer") else sslmode

    def _can_log_in(self, secret: PostgresSecret) -> bool:
        try:
            with self._connect(secret):
                return True
        except AuthenticationError:
            return False

    @contextmanager
    def _connect(self, secret: PostgresSecret) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        sslmode = self._sslmode(secret)
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
            "connect_timeout": self.pg.connect_timeout,
            "application_name": "secret-rotation",
            "options": f"-c statement_timeout={timeout} -c lock_timeout={timeout}",
        }
        if sslmode in ("verify-ca", "verify-full"):
            params["sslrootcert"] = secret.connection.options.get("sslrootcert") or self.pg.sslrootcert
        where = f"{secret.host}:{secret.port} as {secret.username}"
        try:
            conn = psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            pgconn = getattr(exc, "pgconn", None)
            if pgconn is not None and pgconn.used_password:
                raise AuthenticationError(f"PostgreSQL at {where} refused the password") from exc
            raise TargetUnreachableError(
                f"cannot connect to PostgreSQL at {where} (sslmode={sslmode}): connection, timeout or TLS "
                "verification failed"
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
    def _set_password(
        conn: psycopg.Connection[tuple[object, ...]], username: str, password: str, secret: PostgresSecret
    ) -> None:
        # Only the SCRAM verifier crosses the wire and can reach the server log.
        verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(username), sql.Literal(verifier)))
        logger.info("password set", extra={"db_user": username, "db_host": secret.host})

    def _ensure_clone(
        self, conn: psycopg.Connection[tuple[object, ...]], base: str, clone: str, pending: PostgresSecret
    ) -> None:
        """Create the clone if missing; align its attributes and memberships with the base user's."""
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
    def _memberships(conn: psycopg.Connection[tuple[object, ...]], role: str) -> list[str]:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (role,),
        ).fetchall()
        return [str(row[0]) for row in rows]


STRATEGY = PostgresStrategy
