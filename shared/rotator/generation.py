"""Passwords under a policy: random from the operating system's CSPRNG (Python's ``secrets``), or derived from a
secret seed (``rotator.schemes.passwords`` seeds it with a KMS MAC)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator

from rotator.errors import PolicyError
from rotator.settings import PasswordPolicy

__all__ = ["check_made", "derive_password", "generate_password", "meets_policy", "password_alphabet"]

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)


def password_alphabet(policy: PasswordPolicy) -> tuple[str, list[str]]:
    """The allowed characters and the non-empty character classes under ``policy``."""
    excluded = set(policy.exclude_characters)
    classes = ["".join(ch for ch in chars if ch not in excluded) for chars in _CLASSES]
    classes = [chars for chars in classes if chars]
    alphabet = "".join(classes)
    if not alphabet:
        raise PolicyError("password policy excludes every character")
    if policy.require_each_type and len(classes) > policy.length:
        raise PolicyError("password length is shorter than the number of required character classes")
    return alphabet, classes


def generate_password(policy: PasswordPolicy) -> str:
    """A password of ``policy.length`` characters with one of each allowed class when required."""
    alphabet, classes = password_alphabet(policy)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(policy.length))
        if not policy.require_each_type or all(any(ch in chars for ch in password) for chars in classes):
            return password


def meets_policy(password: str, policy: PasswordPolicy) -> bool:
    """True when ``password`` could have come from ``generate_password(policy)`` (length, alphabet, classes)."""
    alphabet, classes = password_alphabet(policy)
    if len(password) < policy.length or any(ch not in alphabet for ch in password):
        return False
    return not policy.require_each_type or all(any(ch in chars for ch in password) for chars in classes)


def check_made(password: str, policy: PasswordPolicy) -> None:
    """Refuse a pending password that ``generate_password(policy)`` could not have made (``PolicyError``).

    setSecret runs this before anything reaches the target: a pending value written by someone other than
    createSecret (a direct invocation with a chosen password) is refused unless it is shaped like ours.
    """
    if not meets_policy(password, policy):
        raise PolicyError("pending password does not meet the generation policy: createSecret did not make it")


def derive_password(seed: bytes, policy: PasswordPolicy) -> str:
    """The password ``policy`` allows that ``seed`` (a secret MAC) determines: the same seed, the same password.

    Characters are drawn from HMAC-SHA-256(seed, counter) blocks without modulo bias; a draw that lacks a
    required character class is redrawn from the next counters, as ``generate_password`` redraws.
    """
    import hashlib
    import hmac

    alphabet, classes = password_alphabet(policy)
    limit = 256 - 256 % len(alphabet)  # bytes at or above it would favour the first characters
    counter = 0

    def stream() -> Iterator[int]:
        nonlocal counter
        while True:
            counter += 1
            yield from hmac.digest(seed, counter.to_bytes(8, "big"), hashlib.sha256)

    draws = (byte for byte in stream() if byte < limit)
    while True:
        password = "".join(alphabet[next(draws) % len(alphabet)] for _ in range(policy.length))
        if not policy.require_each_type or all(any(ch in chars for ch in password) for chars in classes):
            return password
