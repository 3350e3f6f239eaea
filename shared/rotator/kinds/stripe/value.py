"""A Stripe credential as stored: a secret or restricted API key, or a webhook signing secret."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rotator.codecs import ParsedSecret
from rotator.errors import SecretFormatError

__all__ = ["StripeValue", "check_format", "environment_of"]

_API_KEY = re.compile(r"(?P<type>sk|rk)_(?P<mode>live|test)_[A-Za-z0-9]{10,247}")
_WEBHOOK = re.compile(r"whsec_[A-Za-z0-9+/=_\-]{16,200}")


@dataclass(frozen=True)
class StripeValue(ParsedSecret):
    """A Stripe credential as stored: an API key or a webhook signing secret."""

    text: str
    kind: str  # "secret_key", "restricted_key" or "webhook_secret"
    live: bool | None  # None for webhook secrets

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> StripeValue:
        return check_format(text, what=what)

    def secret_parts(self) -> Iterable[str]:
        return (self.text,)

    def __repr__(self) -> str:
        return f"StripeValue(kind={self.kind!r}, live={self.live})"


def check_format(text: str, *, what: str = "value") -> StripeValue:
    """Recognise a Stripe credential; typed errors name the problem, never the value."""
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise SecretFormatError(f"{what} contains whitespace")
    if not text:
        raise SecretFormatError(f"{what} is empty")
    if match := _API_KEY.fullmatch(text):
        kind = "secret_key" if match["type"] == "sk" else "restricted_key"
        return StripeValue(text, kind, match["mode"] == "live")
    if _WEBHOOK.fullmatch(text):
        return StripeValue(text, "webhook_secret", None)
    raise SecretFormatError(f"{what} is not a Stripe key (sk_/rk_ live or test) or webhook secret (whsec_)")


def environment_of(secret_name: str) -> str:
    """``amply/prod/stripe-secret-key`` → ``prod``."""
    parts = secret_name.split("/")
    if len(parts) < 3 or not parts[1]:
        raise SecretFormatError(f"cannot tell the environment of {secret_name}: name it <app>/<env>/<name>")
    return parts[1]
