"""The stripe kind: its one path, and the operator-staged values it promotes."""

from __future__ import annotations

from typing import Any

from rotator.aws.secrets_manager import SecretDescription
from rotator.core.staging import STAGED_LABEL
from rotator.core.strategy import (
    ApplyRequest,
    GenerateRequest,
    Kind,
    RetireRequest,
    StepRequest,
    Strategy,
    VerifyRequest,
)
from rotator.core.versions import VersionReader
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    SecretFormatError,
    StagingRequiredError,
    TargetRejectedError,
    VerificationError,
)
from rotator.kinds.stripe.api import StripeApi
from rotator.kinds.stripe.settings import TAG_STRIPE_API_KEY_SECRET, TAG_STRIPE_WEBHOOK_ENDPOINT, StripeSettings
from rotator.kinds.stripe.value import StripeValue, check_format, environment_of
from rotator.observability import logger
from rotator.settings import Settings

__all__ = ["KIND", "KIND_CLASS", "StripeKind", "StripeStrategy"]

KIND = "stripe"


class StripeStrategy(Strategy[StripeValue]):
    """Promotes operator-staged Stripe keys after proving them; automates webhook endpoint rolls."""

    def __init__(self, settings: StripeSettings) -> None:
        self.stripe = settings
        self.api = StripeApi(settings)

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
        return TAG_STRIPE_WEBHOOK_ENDPOINT not in description.tags

    def check_staged(self, staged: StripeValue, current: StripeValue, secret_name: str) -> None:
        """Same kind as the current value, a new value, and for keys: mode, account and permissions checked live."""
        if staged.kind != current.kind:
            raise SecretFormatError(f"staged value is a {staged.kind}, the secret holds a {current.kind}")
        if staged.text == current.text:
            raise SecretFormatError("staged value equals the current one")
        if staged.kind != "webhook_secret":
            self.check_key(staged, current, secret_name)

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
        if TAG_STRIPE_WEBHOOK_ENDPOINT not in tags:
            return
        api_key = self._api_key(request.versions)
        endpoints = self.api.endpoints(api_key)
        made = _made_for(endpoints, request.secret.token)
        keep = made.id if made is not None else tags[TAG_STRIPE_WEBHOOK_ENDPOINT]
        for endpoint in endpoints:
            ours = _metadata(endpoint).get("rotation_secret") == request.secret.name
            if endpoint.id != keep and (ours or endpoint.id == tags[TAG_STRIPE_WEBHOOK_ENDPOINT]):
                self.api.delete_endpoint(api_key, endpoint.id)
                logger.info("deleted the replaced webhook endpoint", extra={"endpoint": endpoint.id})

    # webhook endpoints ------------------------------------------------------------

    def _api_key(self, versions: VersionReader[StripeValue]) -> str:
        secret_id = versions.description.tags.get(TAG_STRIPE_API_KEY_SECRET)
        if not secret_id:
            raise ConfigurationError(f"tag {TAG_STRIPE_API_KEY_SECRET} must name the Stripe API key secret")
        value = check_format(versions.other(secret_id).text, what="Stripe API key secret")
        if value.kind == "webhook_secret":
            raise ConfigurationError(f"tag {TAG_STRIPE_API_KEY_SECRET} names a webhook secret, not an API key")
        return value.text

    def _roll_endpoint(self, request: GenerateRequest[StripeValue]) -> str:
        api_key = self._api_key(request.versions)
        tags = request.versions.description.tags
        endpoints = self.api.endpoints(api_key)
        made = _made_for(endpoints, request.versions.current().version_id)
        source = made.id if made is not None else tags[TAG_STRIPE_WEBHOOK_ENDPOINT]
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
        if TAG_STRIPE_WEBHOOK_ENDPOINT not in tags:
            return  # a manually staged webhook secret: only its format can be checked
        api_key = self._api_key(request.versions)
        if request.is_configuration_test:  # the endpoint the secret names exists and delivers; nothing is made
            endpoint = self.api.endpoint(api_key, tags[TAG_STRIPE_WEBHOOK_ENDPOINT])
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


class StripeKind(Kind[StripeValue]):
    """Stripe keys and webhook secrets: one path; an operator stages the next key (``Stageable``)."""

    KIND = KIND
    SECRET = StripeValue
    CREDENTIAL_AT_TARGET = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.strategy = StripeStrategy(StripeSettings.from_env(settings.environ))

    def path_for(self, request: StepRequest[StripeValue]) -> Strategy[StripeValue]:
        return self.strategy

    def rollback_note(self, current: StripeValue, previous: StripeValue) -> str | None:
        return "the previous Stripe key must still be active in the Dashboard"

    def needs_staged_value(self, description: SecretDescription) -> bool:
        return self.strategy.needs_staged_value(description)

    def check_staged(self, staged: StripeValue, current: StripeValue, secret_name: str) -> None:
        self.strategy.check_staged(staged, current, secret_name)


KIND_CLASS = StripeKind
