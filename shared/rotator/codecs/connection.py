"""Database-style credentials stored as a connection URL or a JSON object.

Both forms expose the same fields; ``with_credentials`` writes a new user
and/or password back in the original form, keeping everything else exact.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rotator.codecs.json_document import JsonDocument, looks_like_json
from rotator.codecs.parsed import ParsedSecret
from rotator.codecs.text import check_host, has_control
from rotator.codecs.url import ConnectionUrl
from rotator.errors import SecretFormatError

__all__ = ["ConnectionSecret", "LoginSecret"]

_MAX_FIELD = 1024


@dataclass(frozen=True)
class ConnectionSecret:
    """host/port/username/password/database plus the form they came in."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    database: str | None
    options: Mapping[str, str] = field(default_factory=dict)
    _url: ConnectionUrl | None = field(default=None, repr=False)
    _document: JsonDocument | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str, *, schemes: Collection[str], default_port: int, what: str = "secret") -> ConnectionSecret:
        """Parse a URL whose base scheme is in ``schemes``, or a JSON object with ``host``."""
        if looks_like_json(text):
            return cls._from_json(JsonDocument.parse(text), default_port)
        url = ConnectionUrl.parse(text, what=what)
        if url.base_scheme not in schemes:
            raise SecretFormatError(f"{what} URL scheme {url.base_scheme!r} is not one of {', '.join(sorted(schemes))}")
        database = url.path.lstrip("/") or None
        secret = cls(
            host=url.host.strip("[]"),
            port=url.port or default_port,
            username=url.username or None,
            password=url.password,
            database=database,
            options=dict(url.query),
            _url=url,
        )
        secret._check_lengths()
        return secret

    @classmethod
    def _from_json(cls, document: JsonDocument, default_port: int) -> ConnectionSecret:
        host = document.require_str("host")
        raw_port = document.fields.get("port", default_port)
        if isinstance(raw_port, bool) or not isinstance(raw_port, int | str):
            raise SecretFormatError("JSON secret field 'port' must be a number")
        try:
            port = int(raw_port)
        except ValueError:
            raise SecretFormatError("JSON secret field 'port' must be a number") from None
        if not 0 < port < 65536:
            raise SecretFormatError("JSON secret field 'port' is out of range")
        options = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in document.fields.items()
            if isinstance(value, str | int | bool) and key not in {"host", "port", "username", "password"}
        }
        secret = cls(
            host=host,
            port=port,
            username=document.get_str("username", required=False),
            password=document.get_str("password", required=False),
            database=document.get_str("dbname", required=False),
            options=options,
            _document=document,
        )
        secret._check_lengths()
        return secret

    def _check_lengths(self) -> None:
        for name in ("host", "username", "password", "database"):
            value = getattr(self, name)
            if value is not None and (len(value) > _MAX_FIELD or has_control(value)):
                raise SecretFormatError(f"secret field {name!r} is too long or contains control characters")
        check_host(self.host, what="secret field 'host'")

    @property
    def is_json(self) -> bool:
        """True for the JSON form."""
        return self._document is not None

    def field(self, name: str) -> Any:
        """A JSON field (None for URLs or when absent)."""
        return self._document.fields.get(name) if self._document is not None else None

    def with_credentials(self, *, username: str | None = None, password: str | None = None) -> str:
        """The secret text with a new user and/or password, in its original form."""
        if self._document is not None:
            changes: dict[str, Any] = {}
            if username is not None:
                changes["username"] = username
            if password is not None:
                changes["password"] = password
            return self._document.replace(**changes).render()
        if self._url is None:  # parse sets exactly one of the two forms
            raise SecretFormatError("connection secret has neither a URL nor a JSON form")
        return self._url.with_credentials(username=username, password=password).render()


@dataclass(frozen=True)
class LoginSecret(ParsedSecret):
    """Base of a kind's view of a connection secret: where to log in and with which password."""

    connection: ConnectionSecret

    def secret_parts(self) -> Iterable[str]:
        return (self.password,) if self.password else ()

    @property
    def host(self) -> str:
        return self.connection.host

    @property
    def port(self) -> int:
        return self.connection.port

    @property
    def password(self) -> str:
        return self.connection.password or ""
