"""Signing algorithm names and PEM wrappings: plain names, importable without ``cryptography``."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Algorithm", "PemFormat"]


class Algorithm(StrEnum):
    """JWS algorithm names (RFC 7518 / 8037)."""

    RS256 = "RS256"
    PS256 = "PS256"
    ES256 = "ES256"
    EDDSA = "EdDSA"


class PemFormat(StrEnum):
    """How the private key PEM is wrapped."""

    TRADITIONAL = "traditional"  # PKCS#1 for RSA, SEC1 for EC
    PKCS8 = "pkcs8"
