"""Text encodings of random symmetric keys: hex, base64, base64url, alphanumeric."""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

from rotator.errors import SecretFormatError

__all__ = ["KeyEncoding", "KeyShape", "detect_key_encoding"]

_ALPHANUMERIC = string.ascii_letters + string.digits
_PATTERNS = {
    "hex_lower": re.compile(r"[0-9a-f]+"),
    "hex_upper": re.compile(r"[0-9A-F]+"),
    "base64url": re.compile(r"[A-Za-z0-9_\-]+={0,2}"),
    "base64": re.compile(r"[A-Za-z0-9+/]+={0,2}"),
    "alphanumeric": re.compile(r"[A-Za-z0-9]+"),
}


class KeyEncoding(StrEnum):
    """How a key's random bytes are written as text."""

    HEX = "hex"
    BASE64 = "base64"
    BASE64URL = "base64url"
    ALPHANUMERIC = "alphanumeric"


@dataclass(frozen=True)
class KeyShape:
    """Encoding plus the details needed to produce a key that looks the same."""

    encoding: KeyEncoding
    length: int
    uppercase: bool = False
    padding: int = 0

    @property
    def padded(self) -> bool:
        """Whether base64 ``=`` padding is written (assumed when the length is a multiple of 4)."""
        return self.padding > 0 or self.length % 4 == 0

    @property
    def entropy_bits(self) -> float:
        """Nominal entropy of a uniformly random key of this shape."""
        if self.encoding is KeyEncoding.HEX:
            return 4.0 * self.length
        if self.encoding is KeyEncoding.ALPHANUMERIC:
            return self.length * math.log2(len(_ALPHANUMERIC))
        return 8.0 * self.byte_length

    @property
    def byte_length(self) -> int:
        """Decoded length in bytes (hex and base64 forms)."""
        if self.encoding is KeyEncoding.HEX:
            return self.length // 2
        return (self.length - self.padding) * 3 // 4

    def at_least(self, bits: int) -> KeyShape:
        """The same shape, lengthened so the key carries at least ``bits`` of entropy."""
        if self.entropy_bits >= bits:
            return self
        if self.encoding is KeyEncoding.HEX:
            return KeyShape(self.encoding, 2 * math.ceil(bits / 8), self.uppercase)
        if self.encoding is KeyEncoding.ALPHANUMERIC:
            return KeyShape(self.encoding, math.ceil(bits / math.log2(len(_ALPHANUMERIC))))
        nbytes = math.ceil(bits / 8)
        padding = (-nbytes % 3) if self.padded else 0
        return KeyShape(self.encoding, _b64_length(nbytes, self.padded), padding=padding)

    def generate(self) -> str:
        """A fresh key of exactly this shape, from the operating system's CSPRNG."""
        if self.encoding is KeyEncoding.ALPHANUMERIC:
            return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(self.length))
        if self.encoding is KeyEncoding.HEX:
            text = secrets.token_hex(self.length // 2)
            return text.upper() if self.uppercase else text
        raw = secrets.token_bytes(self.byte_length)
        encoded = base64.urlsafe_b64encode(raw) if self.encoding is KeyEncoding.BASE64URL else base64.b64encode(raw)
        text = encoded.decode("ascii")
        return text if self.padded else text.rstrip("=")

    def matches(self, text: str) -> bool:
        """True when ``text`` is a key of exactly this shape (alphabet, case, length, padding)."""
        if len(text) != self.length:
            return False
        if self.encoding is KeyEncoding.HEX:
            pattern = _PATTERNS["hex_upper" if self.uppercase else "hex_lower"]
        elif self.encoding is KeyEncoding.BASE64:
            pattern = _PATTERNS["base64"]
        elif self.encoding is KeyEncoding.BASE64URL:
            pattern = _PATTERNS["base64url"]
        else:
            pattern = _PATTERNS["alphanumeric"]
        if not pattern.fullmatch(text):
            return False
        if self.encoding in (KeyEncoding.BASE64, KeyEncoding.BASE64URL):
            try:
                return len(self.decode(text)) == self.byte_length
            except SecretFormatError:
                return False
        return True

    def decode(self, text: str) -> bytes:
        """The key's bytes (alphanumeric keys are their own bytes)."""
        try:
            if self.encoding is KeyEncoding.HEX:
                return bytes.fromhex(text)
            if self.encoding is KeyEncoding.ALPHANUMERIC:
                return text.encode("ascii")
            padded = text + "=" * (-len(text) % 4)
            if self.encoding is KeyEncoding.BASE64URL:
                return base64.urlsafe_b64decode(padded)
            return base64.b64decode(padded, validate=True)
        except (ValueError, binascii.Error):
            raise SecretFormatError(f"key is not valid {self.encoding}") from None


def _b64_length(nbytes: int, padded: bool) -> int:
    return 4 * math.ceil(nbytes / 3) if padded else math.ceil(nbytes * 4 / 3)


def detect_key_encoding(text: str) -> KeyShape:
    """Detect how a key is written; refuses text that is none of the known encodings.

    Order matters: hex is also alphanumeric and base64-compatible, so the most
    specific alphabet wins; a key with ``+``/``/`` is base64, with ``-``/``_`` base64url.
    """
    if not text:
        raise SecretFormatError("key is empty")
    if text != text.strip():
        raise SecretFormatError("key has leading or trailing whitespace")
    if _PATTERNS["hex_lower"].fullmatch(text) and len(text) % 2 == 0:
        return KeyShape(KeyEncoding.HEX, len(text))
    if _PATTERNS["hex_upper"].fullmatch(text) and len(text) % 2 == 0 and not text.isdigit():
        return KeyShape(KeyEncoding.HEX, len(text), uppercase=True)
    if _PATTERNS["alphanumeric"].fullmatch(text):
        return KeyShape(KeyEncoding.ALPHANUMERIC, len(text))
    padding = len(text) - len(text.rstrip("="))
    if _PATTERNS["base64"].fullmatch(text):
        shape = KeyShape(KeyEncoding.BASE64, len(text), padding=padding)
    elif _PATTERNS["base64url"].fullmatch(text):
        shape = KeyShape(KeyEncoding.BASE64URL, len(text), padding=padding)
    else:
        raise SecretFormatError("key is not hex, base64, base64url or alphanumeric")
    if padding and len(text) % 4:
        raise SecretFormatError(f"key is not valid {shape.encoding} (bad padding)")
    shape.decode(text)
    return shape
