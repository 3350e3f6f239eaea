"""Asymmetric signing keys with a published public keyring.

The secret (JSON; every other field kept)::

    {"private_key": "-----BEGIN RSA PRIVATE KEY-----\\n...", "key_id": "amply-checkpoint-key-2025",
     "valid_from": "2025-01-01", "valid_until": "2026-01-01"}

gains ``public_key`` (PEM) and ``algorithm`` (RS256, PS256, ES256 or EdDSA)
when it lacks them. createSecret makes a new key pair of the same algorithm
(unless ``ROTATION_SIGNING_ALGORITHM`` says otherwise) and PEM wrapping, the
next ``key_id`` and a fresh validity window written like the current one.
setSecret publishes the current and the new public key to the JWKS keyring in
S3 **before** the new key can sign anything; testSecret signs a probe with the
pending private key and verifies it with the key as read back from the
keyring. Old public keys stay in the keyring forever, so signatures from every
generation remain verifiable (``rotator.keyring``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rotator import constants as c
from rotator.codecs import JsonDocument, ParsedSecret
from rotator.codecs.algorithms import Algorithm, PemFormat
from rotator.codecs.instants import InstantStyle, format_instant, parse_instant
from rotator.codecs.text import has_control
from rotator.errors import ConfigurationError, SecretFormatError, VerificationError
from rotator.keyring_store import KeyringStore
from rotator.settings import Settings, env_int
from rotator.strategy import ApplyRequest, GenerateRequest, Strategy, VerifyRequest

if TYPE_CHECKING:  # cryptography is imported by the steps that handle keys, not at cold start
    from rotator.codecs.keys import PrivateKey
    from rotator.keyring import PublishedKey

__all__ = ["KIND", "STRATEGY", "SigningKeySecret", "SigningKeySettings", "SigningKeyStrategy", "next_key_id"]

KIND = "signing_key"
_OWN_ID = re.compile(r"(?P<prefix>.+)-\d{8}-[0-9a-f]{6}")
_YEAR = re.compile(r"(?P<prefix>.*\D)(?P<year>(19|2\d)\d{2})")
_COUNTER = re.compile(r"(?P<prefix>.*\D)?(?P<counter>\d+)")


@dataclass(frozen=True)
class SigningKeySettings:
    """The signing_key kind's configuration."""

    bucket: str
    key: str
    algorithm: Algorithm | None = None
    rsa_bits: int = 3072
    validity: timedelta = timedelta(days=365)
    grace: timedelta = timedelta(days=30)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SigningKeySettings:
        """Read and validate the keyring location and key policy."""
        bucket, key = environ.get(c.ENV_KEYRING_BUCKET, ""), environ.get(c.ENV_KEYRING_KEY, "")
        if not bucket or not key:
            raise ConfigurationError(f"{c.ENV_KEYRING_BUCKET} and {c.ENV_KEYRING_KEY} must name the keyring object")
        raw_alg = environ.get(c.ENV_SIGNING_ALGORITHM) or None
        try:
            algorithm = Algorithm(raw_alg) if raw_alg else None
        except ValueError:
            names = ", ".join(a.value for a in Algorithm)
            raise ConfigurationError(f"{c.ENV_SIGNING_ALGORITHM} must be one of {names}") from None
        return cls(
            bucket=bucket,
            key=key,
            algorithm=algorithm,
            rsa_bits=env_int(environ, c.ENV_SIGNING_RSA_BITS, 3072, low=2048, high=8192),
            validity=timedelta(days=env_int(environ, c.ENV_SIGNING_VALIDITY_DAYS, 365, low=1, high=3650)),
            grace=timedelta(days=env_int(environ, c.ENV_SIGNING_GRACE_DAYS, 30, low=0, high=365)),
        )


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
        from rotator.keyring import PublishedKey

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


class SigningKeyStrategy(Strategy[SigningKeySecret]):
    """New key pairs, published before use, verified through the published keyring."""

    KIND = KIND
    SECRET = SigningKeySecret

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.signing = SigningKeySettings.from_env(settings.environ)
        self.store = KeyringStore(
            self.signing.bucket,
            self.signing.key,
            connect_timeout=settings.sm_connect_timeout,
            read_timeout=settings.sm_read_timeout,
            max_attempts=settings.sm_max_attempts,
        )

    def generate(self, request: GenerateRequest[SigningKeySecret]) -> str:
        from rotator.codecs.keys import generate_key, private_pem, public_pem

        current = request.current
        algorithm = self.signing.algorithm or current.algorithm
        key = generate_key(algorithm, rsa_bits=self.signing.rsa_bits)
        keyring, _ = self.store.read()
        taken = set(keyring.keys) if keyring else set()
        now = datetime.now(UTC)
        fields = {
            "private_key": private_pem(key, current.pem_format),
            "public_key": public_pem(key),
            "key_id": next_key_id(current.key_id, now, taken | {current.key_id}),
            "algorithm": algorithm.value,
            "valid_from": format_instant(now, current.style),
            "valid_until": format_instant(now + self.signing.validity + self.signing.grace, current.style),
        }
        return current.document.replace(**fields).render()

    def apply(self, request: ApplyRequest[SigningKeySecret]) -> None:
        pending, current = request.pending, request.current
        if pending.key_id == current.key_id:
            raise SecretFormatError("pending key_id equals the current one")
        # Nothing reaches the public keyring that createSecret could not have made.
        self._check_policy(pending)
        # The current key goes in first: on a first rotation it was never published.
        self.store.publish(current.published(), pending.published())

    def verify(self, request: VerifyRequest[SigningKeySecret]) -> None:
        from rotator.signatures import sign, verify

        pending, current = request.pending, request.current
        if request.is_configuration_test:
            # The current key parsed (PEM, public_key, algorithm, validity window) and signs what its public
            # half verifies. The keyring is not read or written: it may not exist before the first rotation.
            probe = secrets.token_bytes(32)
            try:
                verify(current.private_key.public_key(), current.algorithm, probe,
                       sign(current.private_key, current.algorithm, probe))  # fmt: skip
            except Exception as exc:
                raise VerificationError("the current key does not verify its own signature") from exc
            return
        self._check_policy(pending)
        keyring, _ = self.store.read()
        if keyring is None:
            reason = "GetObject is denied (403)" if self.store.read_denied else "it does not exist"
            raise VerificationError(
                f"keyring {self.store.where} cannot be read: {reason}; the new key was not published"
            )
        for needed in (current, pending):
            if needed.key_id not in keyring:
                raise VerificationError(f"keyring {self.store.where} lacks kid {needed.key_id!r}")
        published = keyring.keys[pending.key_id]
        if not published.same_material(pending.published()):
            raise VerificationError(f"keyring entry {pending.key_id!r} is not the pending key's public half")
        probe = secrets.token_bytes(32)
        signature = sign(pending.private_key, pending.algorithm, probe)
        try:
            keyring.verify(pending.key_id, probe, signature, signed_at=max(pending.valid_from, datetime.now(UTC)))
        except VerificationError as exc:
            raise VerificationError(f"probe signed by the pending key does not verify from the keyring: {exc}") from exc

    def _check_policy(self, pending: SigningKeySecret) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        from rotator.codecs.keys import load_public_key, same_public_key

        key = pending.private_key
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size < self.signing.rsa_bits:
            raise VerificationError(f"pending RSA key has {key.key_size} bits; policy requires {self.signing.rsa_bits}")
        public_text = pending.document.get_str("public_key", required=False)
        if public_text is None or not same_public_key(key, load_public_key(public_text)):
            raise VerificationError("pending public_key does not match its private key")


STRATEGY = SigningKeyStrategy
