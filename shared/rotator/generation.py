"""Random secrets from the operating system's CSPRNG (Python's ``secrets``)."""

from __future__ import annotations

import secrets
import string

from rotator.errors import PolicyError
from rotator.settings import PasswordPolicy

__all__ = ["check_made", "generate_password", "meets_policy", "password_alphabet"]

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
