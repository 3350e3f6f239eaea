"""No step takes a credential away while a running ECS consumer still holds it.

A path says what its setSecret takes away (``Revokes``): the current password (single-user PostgreSQL),
the previous one (alternating users, the Redis overlap), or nothing. Before such a step the guard looks for
the secret's consumers (``ROTATION_CONSUMER_CLUSTERS`` and the secret's consumer tags):

* the previous credential: every consumer task launched before AWSCURRENT became current may still hold it.
  If one runs, the guard starts a new deployment of its service (unless one started since) and fails the step
  with ``StaleConsumersError``, naming the services; Secrets Manager re-drives the step later;
* the current credential: every consumer holds it, so the step is refused (configure alternating users),
  unless ``ROTATION_ACCEPT_CONSUMER_OUTAGE`` accepts that their new connections fail until the refresh.

A cluster that cannot be searched fails the step (``ConsumerCheckError``): unknown consumers are not none.
Without clusters and tags the guard makes no call.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rotator.aws.secrets_manager import SecretDescription, SecretsManager
from rotator.constants import Stage
from rotator.consumers.settings import (
    CONSUMERS_TAG,
    ENV_ACCEPT_CONSUMER_OUTAGE,
    ENV_CONSUMER_CLUSTERS,
    ConsumerSettings,
)
from rotator.core.strategy import Revokes
from rotator.errors import ConsumerCheckError, PolicyError, StaleConsumersError
from rotator.observability import logger
from rotator.timings import timed

if TYPE_CHECKING:
    from rotator.consumers.discovery import Consumer

__all__ = ["ConsumerGuard"]


class ConsumerGuard:
    """Checks a secret's consumers before a revoking step; the ECS client is built on first use."""

    def __init__(self, settings: ConsumerSettings, ecs: Any = None) -> None:
        self.settings = settings
        self._ecs = ecs

    @property
    def ecs(self) -> Any:
        if self._ecs is None:
            from rotator.aws.clients import aws_client

            self._ecs = aws_client("ecs")
        return self._ecs

    def consumers(self, description: SecretDescription) -> list[Consumer]:
        """The secret's consumers; ConsumerCheckError when a cluster could not be searched."""
        from rotator.consumers.discovery import find_consumers  # only a secret with consumers to look for needs it

        with timed("ecs", "find consumers"):
            search = find_consumers(
                self.ecs, self.settings.clusters, description.arn, description.name, description.tags
            )
        if search.unsearched:
            failed = ", ".join(f"{cluster} ({code})" for cluster, code in sorted(search.unsearched.items()))
            raise ConsumerCheckError(
                f"cannot search the consumers of {description.name} in {failed}: nothing was changed; fix "
                f"{ENV_CONSUMER_CLUSTERS} or the function's ECS permissions"
            )
        return search.consumers

    def before_revoking(self, revokes: Revokes, description: SecretDescription, sm: SecretsManager) -> None:
        """Raise unless taking away the ``revokes`` credential of the secret cuts off no running consumer."""
        if revokes is Revokes.NOTHING:
            return
        if revokes is Revokes.PREVIOUS and description.version_with(Stage.PREVIOUS) is None:
            return  # never rotated: no consumer can hold an older credential
        if not self.settings.clusters and CONSUMERS_TAG not in description.tags:
            return
        consumers = self.consumers(description)
        if not consumers:
            return
        names = ", ".join(consumer.key for consumer in consumers)
        if revokes is Revokes.CURRENT:
            if self.settings.accept_outage:
                logger.warning("consumers lose the current password until refreshed", extra={"consumers": names})
                return
            raise PolicyError(
                f"{description.name} is injected into ECS services ({names}) and this step would change the only "
                f"password they hold: configure alternating users (a master secret) for it, or set "
                f"{ENV_ACCEPT_CONSUMER_OUTAGE}=true to accept that their new connections fail until refreshed"
            )
        since = sm.current_since(description)
        self._refuse_stale(description, consumers, since)

    def _refuse_stale(self, description: SecretDescription, consumers: list[Consumer], since: datetime | None) -> None:
        from botocore.exceptions import ClientError

        from rotator.consumers.discovery import refresh, stale_tasks

        if since is None:
            return
        stale: dict[str, int] = {}  # consumer -> its tasks that may hold the previous credential
        try:
            for consumer in consumers:
                with timed("ecs", "list tasks"):
                    tasks = stale_tasks(self.ecs, consumer, since)
                if not tasks:
                    continue
                stale[consumer.key] = len(tasks)
                if consumer.deployed_at is None or consumer.deployed_at < since:
                    with timed("ecs", "UpdateService"):
                        refresh(self.ecs, consumer)
                    logger.info("consumer refreshed", extra={"consumer": consumer.key})
        except ClientError as exc:
            raise ConsumerCheckError(f"cannot check or refresh consumers of {description.name}: {_code(exc)}") from None
        if stale:
            held = ", ".join(f"{key} ({count} tasks)" for key, count in stale.items())
            raise StaleConsumersError(
                f"consumers of {description.name} still run tasks launched before AWSCURRENT became current, which "
                f"may hold the credential this step takes away: {held}. Their services are being redeployed; "
                "nothing was changed and the step will be retried",
                tuple(stale),
            )
        logger.info("no consumer holds the previous credential", extra={"consumers": len(consumers)})


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
