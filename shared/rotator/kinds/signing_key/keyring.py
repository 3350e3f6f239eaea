"""The published public keyring (a JWKS document) and a verifier for consumers.

Applications use it to check signatures made by any generation of a rotated
signing key, long after Secrets Manager dropped the old versions::

    from rotator.kinds.signing_key.keyring import Keyring

    keyring = Keyring.from_s3("amply-prod-keyring", "checkpoint-signing-key/jwks.json")
    keyring.verify(kid, payload, signature, signed_at=checkpoint_time)

``verify`` raises ``UnknownKeyError`` for a ``kid`` the keyring does not hold,
``OutsideValidityError`` for a signature dated outside that key's
``valid_from``/``valid_until`` window, and ``BadSignatureError`` when the
signature does not match. Importing this module needs only ``cryptography``
(and ``boto3`` for ``from_s3``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotator.codecs.instants import parse_instant
from rotator.codecs.keys import Algorithm, PublicKey, public_key_from_jwk
from rotator.errors import SecretFormatError, VerificationError
from rotator.kinds.signing_key.signatures import InvalidSignature
from rotator.kinds.signing_key.signatures import verify as verify_signature

__all__ = ["BadSignatureError", "Keyring", "OutsideValidityError", "PublishedKey", "UnknownKeyError"]


class UnknownKeyError(VerificationError):
    """The keyring holds no key with this ``kid``."""


class OutsideValidityError(VerificationError):
    """The signature is dated outside the key's validity window."""


class BadSignatureError(VerificationError):
    """The signature does not match the data and key."""


@dataclass(frozen=True)
class PublishedKey:
    """One public key of the keyring."""

    kid: str
    alg: Algorithm
    public_key: PublicKey = field(repr=False)
    valid_from: datetime | None
    valid_until: datetime | None
    jwk: dict[str, Any] = field(repr=False)

    @classmethod
    def from_jwk(cls, jwk: Any) -> PublishedKey:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
            raise SecretFormatError("keyring entry is not a JWK with a 'kid'")
        try:
            alg = Algorithm(str(jwk.get("alg")))
        except ValueError:
            raise SecretFormatError(f"keyring entry {jwk['kid']!r} has an unsupported 'alg'") from None
        valid_from = parse_instant(jwk["valid_from"], field="valid_from")[0] if "valid_from" in jwk else None
        valid_until = parse_instant(jwk["valid_until"], field="valid_until")[0] if "valid_until" in jwk else None
        return cls(jwk["kid"], alg, public_key_from_jwk(jwk), valid_from, valid_until, dict(jwk))

    def same_material(self, other: PublishedKey) -> bool:
        """Same key type and key numbers (``kid``, ``alg`` and validity may still differ)."""
        material = ("kty", "n", "e", "crv", "x", "y")
        return all(self.jwk.get(name) == other.jwk.get(name) for name in material)


@dataclass(frozen=True)
class Keyring:
    """A JWKS document: every public key ever published, by ``kid``."""

    keys: dict[str, PublishedKey]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Parse a JWKS document; typed errors for anything else (and for a ``kid`` listed twice)."""
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError):  # also numbers too long to read
            raise SecretFormatError("keyring object is not JSON") from None
        except RecursionError:
            raise SecretFormatError("keyring object is nested too deeply to read") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise SecretFormatError("keyring object is not a JWKS document ({'keys': [...]})")
        keys: dict[str, PublishedKey] = {}
        for entry in document["keys"]:
            key = PublishedKey.from_jwk(entry)
            if key.kid in keys:
                raise SecretFormatError(f"keyring lists kid {key.kid!r} twice")
            keys[key.kid] = key
        return cls(keys, {k: v for k, v in document.items() if k != "keys"})

    @classmethod
    def from_s3(cls, bucket: str, key: str, client: Any = None) -> Keyring:
        """Load the keyring from S3 (standard AWS configuration unless a client is given)."""
        if client is None:
            from rotator.aws.clients import aws_client

            client = aws_client("s3")
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return cls.from_json(body)

    def __iter__(self) -> Iterator[PublishedKey]:
        return iter(self.keys.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self.keys

    def with_key(self, key: PublishedKey) -> Keyring:
        """A copy that also holds ``key`` (same order, appended)."""
        return Keyring({**self.keys, key.kid: key}, self.extra)

    def to_json(self) -> str:
        """The JWKS document, keys in publication order."""
        return json.dumps({**self.extra, "keys": [key.jwk for key in self.keys.values()]}, indent=2) + "\n"

    def verify(self, kid: str, data: bytes, signature: bytes, *, signed_at: datetime) -> PublishedKey:
        """Check a signature made by key ``kid`` at ``signed_at``; returns the key that verified it."""
        key = self.keys.get(kid)
        if key is None:
            raise UnknownKeyError(f"keyring holds no key {kid!r}")
        if signed_at.tzinfo is None:
            raise ValueError("signed_at must be timezone-aware")
        if (key.valid_from is not None and signed_at < key.valid_from) or (
            key.valid_until is not None and signed_at >= key.valid_until
        ):
            raise OutsideValidityError(f"signature dated {signed_at.isoformat()} is outside the validity of {kid!r}")
        try:
            verify_signature(key.public_key, key.alg, data, signature)
        except InvalidSignature:
            raise BadSignatureError(f"signature does not verify with key {kid!r}") from None
        return key
