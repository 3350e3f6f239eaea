"""A login read from a secret's value: a connection URL (``postgresql+asyncpg://app:pw@host:5432/app?...``,
``redis://user:pw@host:6379/0``), a JSON document (``username``, ``password``, ``host``, ``port``, ``dbname``
or ``db``, ``ssl``) or a bare AUTH token. Errors name the field, never the value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from rotation_client.errors import SecretFormatError

__all__ = ["Login"]


@dataclass(frozen=True)
class Login:
    """Who logs in where; the password is never in the repr."""

    username: str | None
    password: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    scheme: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # ``rediss://``, or JSON's ``ssl``/``tls``

    @classmethod
    def from_secret(cls, text: str) -> Login:
        stripped = text.strip()
        if stripped.startswith("{"):
            return cls._from_json(stripped)
        if "://" in stripped:
            return cls._from_url(stripped)
        return cls(None, stripped)  # a bare password (an AUTH token)

    @classmethod
    def _from_url(cls, text: str) -> Login:
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise SecretFormatError("the secret is not a valid connection URL") from None
        if parts.password is None:
            raise SecretFormatError("the secret's URL holds no password")
        path = parts.path.lstrip("/")
        return cls(
            unquote(parts.username) if parts.username else None, unquote(parts.password), parts.hostname, port,
            unquote(path) or None, parts.scheme, dict(parse_qsl(parts.query)), parts.scheme == "rediss",
        )  # fmt: skip

    @classmethod
    def _from_json(cls, text: str) -> Login:
        try:
            document = json.loads(text)
        except ValueError:
            raise SecretFormatError("the secret looks like JSON but does not parse") from None
        if not isinstance(document, dict) or not isinstance(document.get("password"), str):
            raise SecretFormatError("the secret's JSON has no 'password' string")
        username = document.get("username", document.get("user"))
        port = document.get("port")
        try:
            port = int(port) if port is not None else None
        except (TypeError, ValueError):
            raise SecretFormatError("the secret's 'port' is not a number") from None
        database = next((document[name] for name in ("dbname", "database", "db") if name in document), None)
        return cls(
            str(username) if username is not None else None, document["password"],
            str(document["host"]) if document.get("host") else None, port,
            str(database) if database is not None else None,
            query={"sslmode": str(document["sslmode"])} if document.get("sslmode") else {},
            tls=document.get("ssl", document.get("tls")) is True,
        )  # fmt: skip
