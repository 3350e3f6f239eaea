"""A signing key as stored: JSON with ``private_key`` (PEM), ``key_id``, ``valid_from``, ``valid_until`` and,
once rotated, ``public_key`` and ``algorithm`` (every other field kept); and the next ``key_id``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rotator.codecs import JsonDocument, ParsedSecret
from rotator.codecs.algorithms import Algorithm, PemFormat
from rotator.codecs.instants import InstantStyle, format_instant, parse_instant
from rotator.codecs.text import has_control
from rotator.errors import SecretFormatError

if TYPE_CHECKING:  # cryptography is imported by the steps that handle keys, not at cold start
    from rotator.codecs.keys import PrivateKey
    from rotator.kinds.signing_key.keyring import PublishedKey

__all__ = ["SigningKeySecret", "next_key_id"]

_OWN_ID = re.compile(r"(?P<prefix>.+)-\d{8}-[0-9a-f]{6}")
_YEAR = re.compile(r"(?P<prefix>.*\D)(?P<year>(19|2\d)\d{2})")
_COUNTER = re.compile(r"(?P<prefix>.*\D)?(?P<counter>\d+)")


@dataclass(frozen=True)
class SigningKeySecret(ParsedSecret):
    """A parsed signing key secret; the private key never appears in the repr."""

    document: JsonDocument
    private_key: PrivateKey
    pem_format: PemFormat
    key_id: str
    algorithm: Algorithm
    valid_from: datetime
    valid_until: datetime
    style: InstantStyle

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> SigningKeySecret:
        """Parse and check: PEM loads unencrypted, matches ``public_key``, algorithm fits, dates parse."""
        from rotator.codecs.keys import (
            algorithm_for,
            fits,
            key_description,
            load_private_key,
            load_public_key,
            same_public_key,
        )

        document = JsonDocument.parse(text)
        pem = document.require_str("private_key")
        key_id = document.require_str("key_id")
        if pem.count("-----BEGIN") > 1:
            raise SecretFormatError(f"{what} field 'private_key' holds more than one PEM block")
        if not key_id.strip() or len(key_id) > 200 or has_control(key_id):
            raise SecretFormatError(f"{what} field 'key_id' is empty, too long or has control characters")
        private_key, pem_format = load_private_key(pem, what=f"{what} field 'private_key'")
        public = document.get_str("public_key", required=False)
        if public is not None and not same_public_key(private_key, load_public_key(public, what=f"{what} public_key")):
            raise SecretFormatError(f"{what} field 'public_key' does not match its private key")
        raw_alg = document.get_str("algorithm", required=False)
        try:
            algorithm = Algorithm(raw_alg) if raw_alg else algorithm_for(private_key)
        except ValueError:
            raise SecretFormatError(f"{what} field 'algorithm' is not one of RS256, PS256, ES256, EdDSA") from None
        if not fits(algorithm, private_key):
            raise SecretFormatError(f"{what} field 'algorithm' does not fit its {key_description(private_key)} key")
        valid_from, style = parse_instant(document.fields.get("valid_from"), field="valid_from")
        valid_until, _ = parse_instant(document.fields.get("valid_until"), field="valid_until")
        if valid_until <= valid_from:
            # An inverted window would be published for good: refused before anything is written.
            raise SecretFormatError(f"{what} field 'valid_until' is not after 'valid_from'")
        return cls(document, private_key, pem_format, key_id, algorithm, valid_from, valid_until, style)

    def __repr__(self) -> str:
        from rotator.codecs.keys import key_description

        description = key_description(self.private_key)
        return f"SigningKeySecret(key_id={self.key_id!r}, algorithm={self.algorithm}, key={description})"

    def secret_parts(self) -> Iterable[str]:
        return (self.document.require_str("private_key"),)

    def published(self) -> PublishedKey:
        """The public half as a keyring entry, with its validity window."""
        from rotator.codecs.keys import jwk_from_public_key
        from rotator.kinds.signing_key.keyring import PublishedKey

        jwk = jwk_from_public_key(self.private_key, kid=self.key_id, alg=self.algorithm)
        jwk["valid_from"] = format_instant(self.valid_from, self.style)
        jwk["valid_until"] = format_instant(self.valid_until, self.style)
        return PublishedKey.from_jwk(jwk)


def next_key_id(current: str, now: datetime, taken: set[str]) -> str:
    """The next ``key_id``: advance a trailing year or counter, else ``<prefix>-<UTC date>-<random>``."""
    own = _OWN_ID.fullmatch(current)
    year = _YEAR.fullmatch(current)
    counter = _COUNTER.fullmatch(current)
    candidate = current
    if own is None and year is not None:
        value = max(int(year["year"]) + 1, now.year)
        while (candidate := f"{year['prefix']}{value}") in taken or candidate == current:
            value += 1
        return candidate
    if own is None and counter is not None:
        digits = counter["counter"]
        value = int(digits) + 1
        while (candidate := f"{counter['prefix'] or ''}{value:0{len(digits)}d}") in taken or candidate == current:
            value += 1
        return candidate
    prefix = own["prefix"] if own is not None else current
    while candidate in taken or candidate == current:
        candidate = f"{prefix}-{now:%Y%m%d}-{secrets.token_hex(3)}"
    return candidate
