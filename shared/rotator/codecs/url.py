"""Connection URLs (``scheme[+driver]://user:password@host:port/path?query#fragment``).

Parsing keeps the original text; changing the password or user re-encodes only
that part, so every other byte of the URL survives a rotation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from rotator.codecs.text import has_control
from rotator.errors import SecretFormatError

__all__ = ["ConnectionUrl"]

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<netloc>[^/?#]*)(?P<rest>[/?#].*)?", re.DOTALL)
_HOSTPORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]@]+)(?::(?P<port>\d{1,5}))?")
_MAX_LENGTH = 8192


@dataclass(frozen=True)
class ConnectionUrl:
    """A parsed connection URL; the password is never part of its repr."""

    scheme: str
    username: str | None
    password: str | None = field(repr=False)
    host: str
    port: int | None
    rest: str
    _raw_user: str | None = field(repr=False)
    _raw_password: str | None = field(repr=False)
    _raw_hostport: str = field(repr=False)

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> ConnectionUrl:
        """Parse a URL with a host; refuses control characters, spaces and bad ports."""
        if len(text) > _MAX_LENGTH:
            raise SecretFormatError(f"{what} connection URL is longer than {_MAX_LENGTH} characters")
        if any(ch.isspace() for ch in text) or has_control(text):
            raise SecretFormatError(f"{what} connection URL contains whitespace or control characters")
        match = _URL.fullmatch(text)
        if match is None:
            raise SecretFormatError(f"{what} is not a connection secret (a scheme://host URL or a JSON object)")
        netloc = match["netloc"]
        userinfo, at, hostport = netloc.rpartition("@")
        raw_user: str | None = None
        raw_password: str | None = None
        if at:
            raw_user, colon, pw = userinfo.partition(":")
            raw_password = pw if colon else None
        host_match = _HOSTPORT.fullmatch(hostport)
        if host_match is None:
            raise SecretFormatError("connection URL has no valid host[:port]")
        port = int(host_match["port"]) if host_match["port"] else None
        if port is not None and not 0 < port < 65536:
            raise SecretFormatError("connection URL port is out of range")
        try:
            username = unquote(raw_user, errors="strict") if raw_user is not None else None
            password = unquote(raw_password, errors="strict") if raw_password is not None else None
        except UnicodeDecodeError:
            raise SecretFormatError("connection URL userinfo is not valid percent-encoded UTF-8") from None
        return cls(
            scheme=match["scheme"],
            username=username,
            password=password,
            host=host_match["host"],
            port=port,
            rest=match["rest"] or "",
            _raw_user=raw_user,
            _raw_password=raw_password,
            _raw_hostport=hostport,
        )

    @property
    def base_scheme(self) -> str:
        """The scheme without a ``+driver`` suffix (``postgresql+asyncpg`` → ``postgresql``)."""
        return self.scheme.split("+", 1)[0].lower()

    @property
    def path(self) -> str:
        """The path part (``/dbname``), without query or fragment."""
        return re.split(r"[?#]", self.rest, maxsplit=1)[0]

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order (duplicates kept)."""
        query = self.rest.split("#", 1)[0].partition("?")[2]
        return parse_qsl(query, keep_blank_values=True)

    def query_value(self, name: str) -> str | None:
        """The last value of a query parameter, or None when absent."""
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None

    def with_credentials(self, *, username: str | None = None, password: str | None = None) -> ConnectionUrl:
        """A copy with a new user and/or password; other parts keep their exact text."""
        raw_user = self._raw_user if username is None else quote(username, safe="")
        raw_password = self._raw_password if password is None else quote(password, safe="")
        return ConnectionUrl(
            scheme=self.scheme,
            username=self.username if username is None else username,
            password=self.password if password is None else password,
            host=self.host,
            port=self.port,
            rest=self.rest,
            _raw_user=raw_user if raw_user is not None else ("" if raw_password is not None else None),
            _raw_password=raw_password,
            _raw_hostport=self._raw_hostport,
        )

    def render(self) -> str:
        """The URL text."""
        userinfo = ""
        if self._raw_user is not None or self._raw_password is not None:
            userinfo = self._raw_user or ""
            if self._raw_password is not None:
                userinfo += ":" + self._raw_password
            userinfo += "@"
        return f"{self.scheme}://{userinfo}{self._raw_hostport}{self.rest}"
