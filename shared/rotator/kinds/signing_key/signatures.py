"""Signing and verifying with the algorithms the signing_key kind supports."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from rotator.codecs.keys import Algorithm, PrivateKey, PublicKey, fits
from rotator.errors import SecretFormatError

__all__ = ["InvalidSignature", "sign", "verify"]


def _check(key: PrivateKey | PublicKey, alg: Algorithm) -> None:
    if not fits(alg, key):
        raise SecretFormatError(f"algorithm {alg} does not fit the key type")


def sign(key: PrivateKey, alg: Algorithm, data: bytes) -> bytes:
    """A signature of ``data`` (ECDSA signatures are DER-encoded)."""
    _check(key, alg)
    if isinstance(key, rsa.RSAPrivateKey):
        if alg is Algorithm.PS256:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            return key.sign(data, pss, hashes.SHA256())
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign(data)


def verify(key: PublicKey, alg: Algorithm, data: bytes, signature: bytes) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` is ``key``'s signature of ``data``."""
    _check(key, alg)
    if isinstance(key, rsa.RSAPublicKey):
        if alg is Algorithm.PS256:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(signature, data, pss, hashes.SHA256())
        else:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(signature, data)
