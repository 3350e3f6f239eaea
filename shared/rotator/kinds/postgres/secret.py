"""A PostgreSQL login as stored: a connection URL or RDS-style JSON, every other field kept."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.errors import SecretFormatError
from rotator.kinds.postgres.settings import SSLMODES

__all__ = ["DEFAULT_PORT", "SCHEMES", "PostgresSecret", "Server"]

SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_PORT = 5432
Server = tuple[str, int]


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
        if sslmode is not None and sslmode not in SSLMODES:
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
