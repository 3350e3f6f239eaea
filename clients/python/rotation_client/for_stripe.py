"""Stripe calls made with the secret's current API key.

::

    stripe_key = StripeKey(SecretCache(ttl=300), "amply/prod/stripe-secret-key")
    balance = stripe_key.call(lambda client: client.v1.balance.retrieve())

``call`` runs the function with a ``stripe.StripeClient`` holding the cached key; when Stripe answers 401 (the key
was rolled and has expired) it refreshes once (AWSCURRENT, then AWSPENDING while a rotation is in progress) and
runs the function again with the next key. The secret is the bare key (``sk_live_…``) or JSON with ``api_key``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rotation_client.cache import SecretCache
from rotation_client.errors import SecretFormatError

__all__ = ["StripeKey"]

_T = TypeVar("_T")


class StripeKey:
    """The API key in a secret, for ``stripe.StripeClient``; ``client_options`` go to every client made."""

    def __init__(self, cache: SecretCache, secret_id: str, **client_options: Any) -> None:
        self.cache, self.secret_id, self.client_options = cache, secret_id, client_options

    def call(self, function: Callable[[Any], _T]) -> _T:
        """``function(client)``, retried with the next key when Stripe refuses the cached one."""
        import stripe

        def attempt(text: str) -> _T:
            return function(stripe.StripeClient(api_key(text), **self.client_options))

        def refused(error: BaseException) -> bool:
            return isinstance(error, stripe.AuthenticationError)

        return self.cache.retrying(self.secret_id, attempt, refused, target="Stripe")


def api_key(text: str) -> str:
    """The key in a secret's value: the bare key, or JSON's ``api_key`` (``secret_key`` also read)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        document = json.loads(stripped)
    except ValueError:
        raise SecretFormatError("the Stripe secret looks like JSON but does not parse") from None
    key = document.get("api_key", document.get("secret_key")) if isinstance(document, dict) else None
    if not isinstance(key, str):
        raise SecretFormatError("the Stripe secret's JSON has no 'api_key' string")
    return key
