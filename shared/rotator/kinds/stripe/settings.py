"""The stripe kind's configuration: its environment and tag names, read once at cold start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotator.errors import ConfigurationError
from rotator.settings import env_int

__all__ = [
    "ENV_STRIPE_ACCOUNT_ID",
    "ENV_STRIPE_API_BASE",
    "ENV_STRIPE_LIVE_ENVIRONMENTS",
    "ENV_STRIPE_RESTRICTED_CHECK",
    "ENV_STRIPE_TIMEOUT",
    "TAG_STRIPE_API_KEY_SECRET",
    "TAG_STRIPE_WEBHOOK_ENDPOINT",
    "StripeSettings",
]

ENV_STRIPE_API_BASE = "ROTATION_STRIPE_API_BASE"
ENV_STRIPE_LIVE_ENVIRONMENTS = "ROTATION_STRIPE_LIVE_ENVIRONMENTS"
ENV_STRIPE_ACCOUNT_ID = "ROTATION_STRIPE_ACCOUNT_ID"
ENV_STRIPE_RESTRICTED_CHECK = "ROTATION_STRIPE_RESTRICTED_CHECK"
ENV_STRIPE_TIMEOUT = "ROTATION_STRIPE_TIMEOUT"
# A webhook secret rotates by itself when tagged with its endpoint and the API key secret that manages it.
TAG_STRIPE_WEBHOOK_ENDPOINT = "stripe:webhook-endpoint"
TAG_STRIPE_API_KEY_SECRET = "stripe:api-key-secret"
_CHECKS = frozenset({"balance", "account", "webhook_endpoints"})


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
        check = environ.get(ENV_STRIPE_RESTRICTED_CHECK) or "balance"
        if check not in _CHECKS:
            raise ConfigurationError(f"{ENV_STRIPE_RESTRICTED_CHECK} must be one of {', '.join(sorted(_CHECKS))}")
        live = environ.get(ENV_STRIPE_LIVE_ENVIRONMENTS) or "prod"
        return cls(
            api_base=environ.get(ENV_STRIPE_API_BASE) or None,
            live_environments=frozenset(part.strip() for part in live.split(",") if part.strip()),
            account_id=environ.get(ENV_STRIPE_ACCOUNT_ID) or None,
            restricted_check=check,
            timeout=env_int(environ, ENV_STRIPE_TIMEOUT, 10, low=1, high=60),
        )
