"""Verify Stripe webhook signatures against the current and the previous signing secret.

During a webhook secret rotation both the old and the new endpoint deliver
events, signed with different secrets; consumers accept either and must
de-duplicate by event id::

    from rotator.kinds.stripe.webhooks import verify_event

    event = verify_event(body, request.headers["Stripe-Signature"], [current_secret, previous_secret])
    if seen(event["id"]):
        return

Uses the ``stripe`` library's own signature check (timestamp tolerance 300 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import stripe

from rotator.errors import VerificationError

__all__ = ["WebhookSignatureError", "verify_event"]


class WebhookSignatureError(VerificationError):
    """No known secret produced this signature (or it is too old)."""


def verify_event(payload: bytes | str, signature_header: str, secrets: Sequence[str], tolerance: int = 300) -> Any:
    """The parsed event when any of ``secrets`` signed it; ``WebhookSignatureError`` otherwise."""
    for secret in secrets:
        if not secret:
            continue
        try:
            return stripe.Webhook.construct_event(payload, signature_header, secret, tolerance=tolerance)
        except stripe.SignatureVerificationError:
            continue
    raise WebhookSignatureError(f"signature matches none of the {len(secrets)} known webhook secrets")
