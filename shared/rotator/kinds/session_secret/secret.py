"""A session secret as stored: a plain key (hex, base64, base64url or alphanumeric) or a JSON keyring
``{"current": "<key>", "previous": ["<older>", ...], ...}`` (every other field kept)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rotator.codecs import JsonDocument, ParsedSecret, detect_key_encoding, looks_like_json
from rotator.codecs.key_encoding import KeyShape
from rotator.errors import SecretFormatError

__all__ = ["SessionSecret"]

_CURRENT = "current"
_PREVIOUS = "previous"


@dataclass(frozen=True)
class SessionSecret(ParsedSecret):
    """A key, optionally inside a JSON keyring. Values never appear in the repr."""

    key: str
    retained: tuple[str, ...]
    document: JsonDocument | None

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> SessionSecret:
        """Parse a plain key or a JSON keyring; typed error naming the bad field. The key's format is checked."""
        if looks_like_json(text):
            document = JsonDocument.parse(text)
            key = document.require_str(_CURRENT)
            previous = document.fields.get(_PREVIOUS, [])
            if not isinstance(previous, list) or not all(isinstance(item, str) for item in previous):
                raise SecretFormatError(f"{what}: JSON keyring field {_PREVIOUS!r} must be a list of strings")
            secret = cls(key, tuple(previous), document)
        else:
            secret = cls(text, (), None)
        try:
            secret.shape  # noqa: B018 - the key must be in a known encoding
        except SecretFormatError as exc:
            raise SecretFormatError(f"{what}: {exc}") from None
        return secret

    def secret_parts(self) -> Iterable[str]:
        return self.all_keys()

    def __repr__(self) -> str:
        return f"SessionSecret(keyring={self.document is not None}, retained={len(self.retained)})"

    @property
    def shape(self) -> KeyShape:
        """The encoding and length of the key."""
        return detect_key_encoding(self.key)

    def all_keys(self) -> tuple[str, ...]:
        """The key and every retained key."""
        return (self.key, *self.retained)

    def rotated(self, new_key: str, retained_keys: int) -> str:
        """The rotated value's text: a new key, old keys shifted into ``previous``."""
        if self.document is None:
            return new_key
        retained = list(self.all_keys())[:retained_keys]
        return self.document.replace(**{_CURRENT: new_key, _PREVIOUS: retained}).render()
