"""The Stripe API adapter: the few calls the kind makes, through the real ``stripe`` client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rotator.errors import AuthenticationError, TargetRejectedError, TargetUnreachableError
from rotator.kinds.stripe.settings import StripeSettings
from rotator.schemes.target import TargetClient

if TYPE_CHECKING:  # the stripe library is imported by the steps that call Stripe, not at cold start
    import stripe

__all__ = ["StripeApi"]


class StripeApi(TargetClient):
    """The few Stripe calls the kind makes; Stripe's errors become typed ones here."""

    SERVICE = "stripe"

    def __init__(self, settings: StripeSettings) -> None:
        self.settings = settings

    @contextmanager
    def client(self, api_key: str, purpose: str) -> Iterator[stripe.StripeClient]:
        """A client with ``api_key``; what runs inside is one timed call named ``purpose``."""
        import stripe

        options: dict[str, Any] = {
            "max_network_retries": 2,
            "http_client": stripe.new_default_http_client(timeout=self.settings.timeout),
        }
        if self.settings.api_base:
            options["base_addresses"] = {"api": self.settings.api_base}
        with self.call(purpose):
            yield stripe.StripeClient(api_key, **options)

    def typed_error(self, exc: Exception, operation: str) -> Exception | None:
        import stripe

        if isinstance(exc, stripe.AuthenticationError):
            return AuthenticationError(f"Stripe refused the key during {operation} (HTTP {exc.http_status})")
        if isinstance(exc, stripe.PermissionError):
            return TargetRejectedError(f"Stripe denied {operation}: the key lacks the permission (HTTP 403)")
        if isinstance(exc, stripe.RateLimitError):
            return TargetUnreachableError(f"Stripe rate-limited {operation} after retries (HTTP 429)")
        if isinstance(exc, stripe.APIConnectionError):
            return TargetUnreachableError(f"cannot reach Stripe for {operation}")
        if isinstance(exc, stripe.StripeError):
            return TargetRejectedError(f"Stripe refused {operation} (HTTP {exc.http_status})")
        return None

    def account_id(self, api_key: str) -> str:
        with self.client(api_key, "reading the account") as client:
            return str(client.v1.accounts.retrieve_current().id)

    def check_read(self, api_key: str, resource: str) -> None:
        with self.client(api_key, f"reading {resource}") as client:
            if resource == "balance":
                client.v1.balance.retrieve()
            elif resource == "account":
                client.v1.accounts.retrieve_current()
            else:
                client.v1.webhook_endpoints.list({"limit": 1})

    def endpoints(self, api_key: str) -> list[Any]:
        with self.client(api_key, "listing webhook endpoints") as client:
            return list(client.v1.webhook_endpoints.list({"limit": 100}).data)

    def endpoint(self, api_key: str, endpoint_id: str) -> Any:
        with self.client(api_key, f"reading webhook endpoint {endpoint_id}") as client:
            return client.v1.webhook_endpoints.retrieve(endpoint_id)

    def create_endpoint(self, api_key: str, url: str, events: list[str], metadata: dict[str, str]) -> Any:
        with self.client(api_key, "creating the replacement webhook endpoint") as client:
            params: Any = {"url": url, "enabled_events": events, "metadata": metadata}  # events are Stripe's literals
            return client.v1.webhook_endpoints.create(params)

    def delete_endpoint(self, api_key: str, endpoint_id: str) -> None:
        with self.client(api_key, f"deleting webhook endpoint {endpoint_id}") as client:
            import stripe

            try:
                client.v1.webhook_endpoints.delete(endpoint_id)
            except stripe.InvalidRequestError as exc:
                if exc.http_status != 404:  # already gone: retire is idempotent
                    raise
