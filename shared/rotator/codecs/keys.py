"""Asymmetric signing keys: PEM private/public keys and their JWK (RFC 7517) form.

Supported: RSA (RS256, PS256), EC P-256 (ES256) and Ed25519 (EdDSA). Private
keys load from PKCS#1 (``BEGIN RSA PRIVATE KEY``), SEC1 (``BEGIN EC PRIVATE
KEY``) or PKCS#8 PEM, and are written back in the same form.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rotator.codecs.algorithms import Algorithm, PemFormat
from rotator.errors import SecretFormatError

__all__ = [
    "ALGORITHM_KEY_TYPES",
    "Algorithm",
    "KeyType",
    "PemFormat",
    "PrivateKey",
    "PublicKey",
    "algorithm_for",
    "fits",
    "generate_key",
    "jwk_from_public_key",
    "key_description",
    "key_type",
    "load_private_key",
    "load_public_key",
    "private_pem",
    "public_key_from_jwk",
    "public_pem",
    "same_public_key",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def load_private_key(pem: str, *, what: str = "private_key") -> tuple[PrivateKey, PemFormat]:
    """Load an unencrypted private key; typed errors for malformed, encrypted or unsupported keys."""
    data = pem.encode()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SecretFormatError(f"{what} is encrypted; store it unencrypted in the secret") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SecretFormatError(f"{what} is not a valid PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SecretFormatError(f"{what} is of an unsupported key type")
    if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, ec.SECP256R1):
        raise SecretFormatError(f"{what} uses curve {key.curve.name}; only P-256 is supported")
    pem_format = PemFormat.PKCS8 if "BEGIN PRIVATE KEY" in pem else PemFormat.TRADITIONAL
    return key, pem_format


def load_public_key(pem: str, *, what: str = "public_key") -> PublicKey:
    """Load a PEM public key (SubjectPublicKeyInfo)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise SecretFormatError(f"{what} is not a valid PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise SecretFormatError(f"{what} is of an unsupported key type")
    return key


def private_pem(key: PrivateKey, pem_format: PemFormat) -> str:
    """PEM text of a private key, unencrypted, in the requested wrapping (Ed25519 is always PKCS#8)."""
    if isinstance(key, ed25519.Ed25519PrivateKey) or pem_format is PemFormat.PKCS8:
        fmt = serialization.PrivateFormat.PKCS8
    else:
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def public_pem(key: PrivateKey | PublicKey) -> str:
    """PEM SubjectPublicKeyInfo of a key's public half."""
    public = _public(key)
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return key
    return key.public_key()


def same_public_key(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    """True when both keys have the same public half."""
    return public_pem(a) == public_pem(b)


class KeyType(StrEnum):
    """The key types the suite signs with."""

    RSA = "RSA"
    EC_P256 = "EC-P-256"
    ED25519 = "Ed25519"


# The one table of which algorithm needs which key type; the first algorithm of a type is its default.
ALGORITHM_KEY_TYPES: dict[Algorithm, KeyType] = {
    Algorithm.RS256: KeyType.RSA,
    Algorithm.PS256: KeyType.RSA,
    Algorithm.ES256: KeyType.EC_P256,
    Algorithm.EDDSA: KeyType.ED25519,
}


def key_type(key: PrivateKey | PublicKey) -> KeyType:
    """The type of a private or public key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return KeyType.RSA
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return KeyType.EC_P256
    return KeyType.ED25519


def fits(algorithm: Algorithm, key: PrivateKey | PublicKey) -> bool:
    """Whether ``key`` is of the type ``algorithm`` signs with."""
    return ALGORITHM_KEY_TYPES[algorithm] is key_type(key)


def algorithm_for(key: PrivateKey | PublicKey) -> Algorithm:
    """The default JWS algorithm for a key type."""
    return next(alg for alg, kind in ALGORITHM_KEY_TYPES.items() if kind is key_type(key))


def generate_key(algorithm: Algorithm, *, rsa_bits: int = 3072) -> PrivateKey:
    """A new private key of the type ``algorithm`` signs with."""
    kind = ALGORITHM_KEY_TYPES[algorithm]
    if kind is KeyType.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if kind is KeyType.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def key_description(key: PrivateKey | PublicKey) -> str:
    """``RSA-3072``, ``EC-P-256`` or ``Ed25519``, for messages and policy checks."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return key_type(key).value


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _unb64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise SecretFormatError(f"JWK member {field!r} must be a base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise SecretFormatError(f"JWK member {field!r} is not base64url") from None


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def jwk_from_public_key(key: PrivateKey | PublicKey, *, kid: str, alg: Algorithm) -> dict[str, Any]:
    """The public half as a JWK with ``kid``, ``alg`` and ``use: sig``."""
    public = _public(key)
    jwk: dict[str, Any] = {"kid": kid, "use": "sig", "alg": alg.value}
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        jwk.update(kty="RSA", n=_b64(_int_bytes(numbers.n)), e=_b64(_int_bytes(numbers.e)))
    elif isinstance(public, ec.EllipticCurvePublicKey):
        numbers_ec = public.public_numbers()
        jwk.update(
            kty="EC", crv="P-256", x=_b64(numbers_ec.x.to_bytes(32, "big")), y=_b64(numbers_ec.y.to_bytes(32, "big"))
        )
    else:
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk.update(kty="OKP", crv="Ed25519", x=_b64(raw))
    return jwk


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """The public key a JWK describes; typed errors for anything malformed or unsupported."""
    kty = jwk.get("kty")
    if kty == "RSA":
        n = int.from_bytes(_unb64(jwk.get("n"), "n"), "big")
        e = int.from_bytes(_unb64(jwk.get("e"), "e"), "big")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            raise SecretFormatError("JWK holds an invalid RSA key") from None
    if kty == "EC" and jwk.get("crv") == "P-256":
        x = int.from_bytes(_unb64(jwk.get("x"), "x"), "big")
        y = int.from_bytes(_unb64(jwk.get("y"), "y"), "big")
        try:
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except ValueError:
            raise SecretFormatError("JWK holds an invalid P-256 point") from None
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        try:
            return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(jwk.get("x"), "x"))
        except ValueError:
            raise SecretFormatError("JWK holds an invalid Ed25519 key") from None
    raise SecretFormatError("JWK is of an unsupported key type or curve")
