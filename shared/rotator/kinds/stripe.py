"""Stripe secret keys, restricted keys and webhook signing secrets: validated manual rotation.

Stripe has no generally available API to create or roll a secret key, so a
person creates the new key in the Dashboard and stages it (``rotation stage``,
which stores it under the ``STAGED`` label and starts the rotation).
createSecret copies the staged value into AWSPENDING, or fails naming the
command to run. testSecret proves the pending key with the real ``stripe``
client: it authenticates, belongs to the same Stripe account as the current
key (or ``ROTATION_STRIPE_ACCOUNT_ID``), has the mode the secret's environment
requires (``sk_live_``/``rk_live_`` only in ``ROTATION_STRIPE_LIVE_ENVIRONMENTS``,
default ``prod``), and a restricted key can perform the read it is expected to
allow (``ROTATION_STRIPE_RESTRICTED_CHECK``).

Webhook signing secrets (``whsec_``) are format-checked. With the secret tagged
``stripe:webhook-endpoint=<we_…>`` and ``stripe:api-key-secret=<secret id>``,
rotation is automatic: createSecret creates a replacement endpoint with the
same URL and events and stores its signing secret; after promotion the old
endpoint is deleted. Both endpoints deliver during the overlap, so consumers
must de-duplicate events by id (``rotator.stripe_webhooks`` verifies against
the current and previous secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotator import constants as c
from rotator.codecs import ParsedSecret
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    SecretFormatError,
    StagingRequiredError,
    TargetRejectedError,
    TargetUnreachableError,
    VerificationError,
)
from rotator.observability import logger
from rotator.secrets_manager import SecretDescription
from rotator.settings import Settings, env_int
from rotator.staging import STAGED_LABEL
from rotator.strategy import ApplyRequest, GenerateRequest, RetireRequest, Strategy, VerifyRequest
from rotator.timings import timed
from rotator.versions import VersionReader

if TYPE_CHECKING:  # the stripe library is imported by the steps that call Stripe, not at cold start
    import stripe

__all__ = [
    "KIND",
    "STRATEGY",
    "StripeApi",
    "StripeSettings",
    "StripeStrategy",
    "StripeValue",
    "check_format",
    "environment_of",
]

KIND = "stripe"
_API_KEY = re.compile(r"(?P<type>sk|rk)_(?P<mode>live|test)_[A-Za-z0-9]{10,247}")
_WEBHOOK = re.compile(r"whsec_[A-Za-z0-9+/=_\-]{16,200}")
_CHECKS = frozenset({"balance", "account", "webhook_endpoints"})


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


@dataclass(frozen=True)
class StripeSettings:
    """The stripe kind's configuration."""

    api_base: str | None = None
    live_environments: frozenset[str] = frozenset({"prod"})
    account_id: str | None = None
    restricted_check: str = "balance"
    timeout: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StripeSettings:
        check = environ.get(c.ENV_STRIPE_RESTRICTED_CHECK) or "balance"
        if check not in _CHECKS:
            raise ConfigurationError(f"{c.ENV_STRIPE_RESTRICTED_CHECK} must be one of {', '.join(sorted(_CHECKS))}")
        live = environ.get(c.ENV_STRIPE_LIVE_ENVIRONMENTS) or "prod"
        return cls(
            api_base=environ.get(c.ENV_STRIPE_API_BASE) or None,
            live_environments=frozenset(part.strip() for part in live.split(",") if part.strip()),
            account_id=environ.get(c.ENV_STRIPE_ACCOUNT_ID) or None,
            restricted_check=check,
            timeout=env_int(environ, c.ENV_STRIPE_TIMEOUT, 10, low=1, high=60),
        )


def environment_of(secret_name: str) -> str:
    """``amply/prod/stripe-secret-key`` → ``prod``."""
    parts = secret_name.split("/")
    if len(parts) < 3 or not parts[1]:
        raise SecretFormatError(f"cannot tell the environment of {secret_name}: name it <app>/<env>/<name>")
    return parts[1]


class StripeApi:
    """The few Stripe calls the kind makes, with Stripe's errors mapped to typed ones."""

    def __init__(self, settings: StripeSettings) -> None:
        self.settings = settings

    @contextmanager
    def client(self, api_key: str, purpose: str) -> Iterator[stripe.StripeClient]:
        import stripe

        options: dict[str, Any] = {
            "max_network_retries": 2,
            "http_client": stripe.new_default_http_client(timeout=self.settings.timeout),
        }
        if self.settings.api_base:
            options["base_addresses"] = {"api": self.settings.api_base}
        try:
            with timed("stripe", purpose):
                yield stripe.StripeClient(api_key, **options)
        except stripe.AuthenticationError as exc:
            raise AuthenticationError(f"Stripe refused the key during {purpose} (HTTP {exc.http_status})") from exc
        except stripe.PermissionError as exc:
            raise TargetRejectedError(f"Stripe denied {purpose}: the key lacks the permission (HTTP 403)") from exc
        except stripe.RateLimitError as exc:
            raise TargetUnreachableError(f"Stripe rate-limited {purpose} after retries (HTTP 429)") from exc
        except stripe.APIConnectionError as exc:
            raise TargetUnreachableError(f"cannot reach Stripe for {purpose}") from exc
        except stripe.StripeError as exc:
            raise TargetRejectedError(f"Stripe refused {purpose} (HTTP {exc.http_status})") from exc

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


class StripeStrategy(Strategy[StripeValue]):
    """Promotes operator-staged Stripe keys after proving them; automates webhook endpoint rolls."""

    KIND = KIND
    SECRET = StripeValue
    STAGEABLE = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.stripe = StripeSettings.from_env(settings.environ)
        self.api = StripeApi(self.stripe)

    def generate(self, request: GenerateRequest[StripeValue]) -> str:
        current = request.current
        staged = request.versions.labelled(STAGED_LABEL)
        if staged is not None:
            value = request.versions.parsed(staged, what="staged value")
            self.check_staged(value, current, request.secret.name)
            return value.text
        if not self.needs_staged_value(request.versions.description):
            return self._roll_endpoint(request)
        raise StagingRequiredError(
            f"nothing staged for {request.secret.name}: create the new value in Stripe, then run "
            f"`rotation stage {request.secret.name}` and paste it on standard input"
        )

    def needs_staged_value(self, description: SecretDescription) -> bool:
        """Keys always; webhook secrets unless tagged with the endpoint the rotation rolls by itself."""
        return c.TAG_STRIPE_WEBHOOK_ENDPOINT not in description.tags

    def check_staged(self, staged: StripeValue, current: StripeValue, secret_name: str) -> None:
        """Same kind as the current value, a new value, and for keys: mode, account and permissions checked live."""
        if staged.kind != current.kind:
            raise SecretFormatError(f"staged value is a {staged.kind}, the secret holds a {current.kind}")
        if staged.text == current.text:
            raise SecretFormatError("staged value equals the current one")
        if staged.kind != "webhook_secret":
            self.check_key(staged, current, secret_name)

    def rollback_note(self, current: StripeValue, previous: StripeValue) -> str | None:
        return "the previous Stripe key must still be active in the Dashboard"

    def apply(self, request: ApplyRequest[StripeValue]) -> None:
        return None  # the new key already exists in Stripe; nothing to change there

    def verify(self, request: VerifyRequest[StripeValue]) -> None:
        pending, current = request.pending, request.current
        if pending.kind != current.kind:
            raise VerificationError(f"pending value is a {pending.kind}, the secret holds a {current.kind}")
        if pending.kind == "webhook_secret":
            self._verify_endpoint(request)
            return
        self.check_key(pending, current, request.secret.name)

    def check_key(self, pending: StripeValue, current: StripeValue | None, secret_name: str) -> None:
        """Mode, authentication, same account and the restricted key's read. Used by testSecret and ``stage``."""
        environment = environment_of(secret_name)
        live_required = environment in self.stripe.live_environments
        if pending.live != live_required:
            mode = "live" if pending.live else "test"
            raise VerificationError(f"a {mode}-mode key is refused for {secret_name} (environment {environment})")
        try:
            if pending.kind == "restricted_key":
                self.api.check_read(pending.text, self.stripe.restricted_check)
            expected = self.stripe.account_id or (self.api.account_id(current.text) if current else None)
            if expected is None:
                raise VerificationError("cannot tell the expected Stripe account: set ROTATION_STRIPE_ACCOUNT_ID")
            if self.api.account_id(pending.text) != expected:
                raise VerificationError("pending key belongs to another Stripe account than the current key")
        except (AuthenticationError, TargetRejectedError) as exc:
            raise VerificationError(f"pending key check failed: {exc}") from exc

    def retire(self, request: RetireRequest[StripeValue]) -> None:
        tags = request.versions.description.tags
        if c.TAG_STRIPE_WEBHOOK_ENDPOINT not in tags:
            return
        api_key = self._api_key(request.versions)
        endpoints = self.api.endpoints(api_key)
        made = _made_for(endpoints, request.secret.token)
        keep = made.id if made is not None else tags[c.TAG_STRIPE_WEBHOOK_ENDPOINT]
        for endpoint in endpoints:
            ours = _metadata(endpoint).get("rotation_secret") == request.secret.name
            if endpoint.id != keep and (ours or endpoint.id == tags[c.TAG_STRIPE_WEBHOOK_ENDPOINT]):
                self.api.delete_endpoint(api_key, endpoint.id)
                logger.info("deleted the replaced webhook endpoint", extra={"endpoint": endpoint.id})

    # webhook endpoints ------------------------------------------------------------

    def _api_key(self, versions: VersionReader[StripeValue]) -> str:
        secret_id = versions.description.tags.get(c.TAG_STRIPE_API_KEY_SECRET)
        if not secret_id:
            raise ConfigurationError(f"tag {c.TAG_STRIPE_API_KEY_SECRET} must name the Stripe API key secret")
        value = check_format(versions.other(secret_id).text, what="Stripe API key secret")
        if value.kind == "webhook_secret":
            raise ConfigurationError(f"tag {c.TAG_STRIPE_API_KEY_SECRET} names a webhook secret, not an API key")
        return value.text

    def _roll_endpoint(self, request: GenerateRequest[StripeValue]) -> str:
        api_key = self._api_key(request.versions)
        tags = request.versions.description.tags
        endpoints = self.api.endpoints(api_key)
        made = _made_for(endpoints, request.versions.current().version_id)
        source = made.id if made is not None else tags[c.TAG_STRIPE_WEBHOOK_ENDPOINT]
        for endpoint in endpoints:
            # A replacement made by an attempt that crashed before storing its secret is useless now.
            if _metadata(endpoint).get("rotation_token") == request.secret.token:
                self.api.delete_endpoint(api_key, endpoint.id)
        old = self.api.endpoint(api_key, source)
        metadata = {"rotation_token": request.secret.token, "rotation_secret": request.secret.name, "replaces": old.id}
        new = self.api.create_endpoint(api_key, old.url, list(old.enabled_events), metadata)
        logger.info("created the replacement webhook endpoint", extra={"endpoint": new.id, "replaces": old.id})
        return str(new.secret)

    def _verify_endpoint(self, request: VerifyRequest[StripeValue]) -> None:
        tags = request.versions.description.tags
        if c.TAG_STRIPE_WEBHOOK_ENDPOINT not in tags:
            return  # a manually staged webhook secret: only its format can be checked
        api_key = self._api_key(request.versions)
        if request.is_configuration_test:  # the endpoint the secret names exists and delivers; nothing is made
            endpoint = self.api.endpoint(api_key, tags[c.TAG_STRIPE_WEBHOOK_ENDPOINT])
        else:
            endpoint = _made_for(self.api.endpoints(api_key), request.secret.token)
        if endpoint is None:
            raise VerificationError("the replacement webhook endpoint for this rotation does not exist")
        if getattr(endpoint, "status", "enabled") != "enabled":
            raise VerificationError(f"replacement webhook endpoint {endpoint.id} is not enabled")


def _made_for(endpoints: list[Any], token: str) -> Any | None:
    """The endpoint a rotation with ``token`` created (its secret is that version's value), if any."""
    return next((e for e in endpoints if _metadata(e).get("rotation_token") == token), None)


def _metadata(endpoint: Any) -> dict[str, Any]:
    metadata = getattr(endpoint, "metadata", None)
    return dict(metadata.to_dict()) if metadata else {}


STRATEGY = StripeStrategy
