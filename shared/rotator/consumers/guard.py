"""No step takes a credential away while a running ECS consumer still holds it.

A path says what its setSecret takes away (``Revokes``): the current password (single-user PostgreSQL),
the previous one (alternating users, the Redis overlap), or nothing. Before such a step the guard looks for
the secret's consumers in ``ROTATION_CONSUMER_CLUSTERS`` (the template's ``ConsumerClusters``, the clusters its
role may read), including those the secret's ``rotation:consumers`` tag declares there:

* the previous credential: every consumer task launched before AWSCURRENT became current may still hold it.
  When AWSCURRENT became current is what finishSecret recorded (``rotator.consumers.promotion``); without a
  record of that version the guard records *now*, erring towards stale. If a stale task runs, the guard starts
  a new deployment of its service (unless one started since; a CodeDeploy or external controller's service is
  never redeployed here, the error says what to run) and fails the step with ``StaleConsumersError``, naming
  the services; Secrets Manager re-drives the step later;
* the current credential: every consumer holds it, so the step is refused (configure alternating users),
  unless ``ROTATION_ACCEPT_CONSUMER_OUTAGE`` accepts that their new connections fail until the refresh.

Before taking away the previous credential the guard also waits out the minimum overlap
(``ROTATION_MIN_OVERLAP_SECONDS`` after AWSCURRENT became current, however it is consumed: an SDK cache is
invisible to ECS discovery), failing the step with the retryable ``OverlapNotElapsedError`` until then.

A cluster that cannot be searched, or a tag naming a cluster outside those clusters, fails the step
(``ConsumerCheckError``) and changes nothing: unknown consumers are not none. Without clusters and tags the
guard makes no call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rotator.aws.secrets_manager import SecretDescription, SecretsManager
from rotator.constants import Stage
from rotator.consumers.promotion import record_promotion, recorded_since
from rotator.consumers.settings import (
    CONSUMERS_TAG,
    ENV_ACCEPT_CONSUMER_OUTAGE,
    ENV_CONSUMER_CLUSTERS,
    ENV_MIN_OVERLAP_SECONDS,
    ConsumerSettings,
)
from rotator.core.strategy import Revokes
from rotator.errors import (
    ConsumerCheckError,
    OverlapNotElapsedError,
    PolicyError,
    SecretsManagerError,
    StaleConsumersError,
)
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

    def watches(self, description: SecretDescription) -> bool:
        """Whether the secret may have consumers to protect (clusters to search, or the consumer tag)."""
        return bool(self.settings.clusters) or CONSUMERS_TAG in description.tags

    def consumers(self, description: SecretDescription) -> list[Consumer]:
        """The secret's consumers; ConsumerCheckError when a cluster could not be searched, or the tag names a
        cluster this function may not read."""
        from rotator.consumers.discovery import declared_clusters, find_consumers

        readable = {cluster.rsplit("/", 1)[-1] for cluster in self.settings.clusters}
        foreign = sorted(declared_clusters(description.tags) - readable)
        if foreign:
            raise ConsumerCheckError(
                f"the {CONSUMERS_TAG} tag of {description.name} names consumers in {', '.join(foreign)}, which this "
                f"function may not read ({ENV_CONSUMER_CLUSTERS}: {', '.join(sorted(readable)) or 'none'}): add "
                "them to the stack's ConsumerClusters, or fix the tag; nothing was changed"
            )
        with timed("ecs", "find consumers"):
            search = find_consumers(self.ecs, self.settings.clusters, description.arn, description.tags)
        if search.unsearched:
            failed = ", ".join(f"{cluster} ({code})" for cluster, code in sorted(search.unsearched.items()))
            raise ConsumerCheckError(
                f"cannot search the consumers of {description.name} in {failed}: nothing was changed; fix "
                f"{ENV_CONSUMER_CLUSTERS} or the function's ECS permissions"
            )
        return search.consumers

    def after_promotion(self, description: SecretDescription, version: str, sm: SecretsManager) -> None:
        """Record when ``version`` became current, for a secret whose consumers are watched or whose previous
        credential waits for the minimum overlap."""
        if self.watches(description) or self.settings.min_overlap > 0:
            try:
                record_promotion(sm, description, version)
            except SecretsManagerError as exc:  # the promotion stands; the guard errs towards stale later
                logger.warning("promotion time not recorded", extra={"error": exc.code})

    def before_revoking(self, revokes: Revokes, description: SecretDescription, sm: SecretsManager) -> None:
        """Raise unless taking away the ``revokes`` credential of the secret cuts off no running consumer."""
        if revokes is Revokes.NOTHING:
            return
        if revokes is Revokes.PREVIOUS and description.version_with(Stage.PREVIOUS) is None:
            return  # never rotated: no consumer can hold an older credential
        since: datetime | None = None  # when AWSCURRENT became current: read (or recorded) once per check
        if revokes is Revokes.PREVIOUS and self.settings.min_overlap > 0:
            since = self._current_since(description, sm)
            self._refuse_within_overlap(description, since)
        if not self.watches(description):
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
        self._refuse_stale(description, consumers, since or self._current_since(description, sm))

    def _refuse_within_overlap(self, description: SecretDescription, since: datetime) -> None:
        """Raise while AWSPREVIOUS may still sit in a client's cache (the minimum overlap after AWSCURRENT became
        current). Single-user PostgreSQL takes away AWSCURRENT itself, which no overlap covers (docs/consumers.md)."""
        not_before = since + timedelta(seconds=self.settings.min_overlap)
        if datetime.now(UTC) < not_before:
            raise OverlapNotElapsedError(
                f"AWSPREVIOUS of {description.name} may still be in a client's cache: AWSCURRENT became current at "
                f"{since.isoformat(timespec='seconds')} and {ENV_MIN_OVERLAP_SECONDS}={self.settings.min_overlap:g}; "
                f"revoking it becomes possible at {not_before.isoformat(timespec='seconds')}. Nothing was changed "
                "and the step will be retried",
                not_before,
            )

    def _current_since(self, description: SecretDescription, sm: SecretsManager) -> datetime:
        """When AWSCURRENT became current as finishSecret recorded it; unrecorded, now (recorded for the retries)."""
        since = recorded_since(description)
        if since is not None:
            return since
        version = description.version_with(Stage.CURRENT) or ""
        try:
            since = record_promotion(sm, description, version)
        except SecretsManagerError as exc:
            raise ConsumerCheckError(
                f"cannot tell when AWSCURRENT of {description.name} became current (no record of version "
                f"{version}) nor record it ({exc.code}): nothing was changed; grant secretsmanager:TagResource"
            ) from None
        logger.info("no promotion record: every task launched before now counts as stale", extra={"version": version})
        return since

    def _refuse_stale(self, description: SecretDescription, consumers: list[Consumer], since: datetime) -> None:
        from botocore.exceptions import ClientError

        from rotator.consumers.discovery import refresh, stale_tasks

        stale: dict[str, int] = {}  # consumer -> its tasks that may hold the previous credential
        by_hand: list[str] = []  # what an operator must run for a service ECS cannot redeploy
        try:
            for consumer in consumers:
                with timed("ecs", "list tasks"):
                    tasks = stale_tasks(self.ecs, consumer, since)
                if not tasks:
                    continue
                stale[consumer.key] = len(tasks)
                if not consumer.redeployable:
                    by_hand.append(consumer.how_to_redeploy())
                elif consumer.deployed_at is None or consumer.deployed_at < since:
                    with timed("ecs", "UpdateService"):
                        refresh(self.ecs, consumer)
                    logger.info("consumer refreshed", extra={"consumer": consumer.key})
        except ClientError as exc:
            raise ConsumerCheckError(f"cannot check or refresh consumers of {description.name}: {_code(exc)}") from None
        if stale:
            held = ", ".join(f"{key} ({count} tasks)" for key, count in stale.items())
            ecs_redeploys = ["ECS is redeploying their services"] if len(by_hand) < len(stale) else []
            redeploying = "; ".join([*ecs_redeploys, *(f"redeploy by hand: {how}" for how in by_hand)])
            raise StaleConsumersError(
                f"consumers of {description.name} still run tasks launched before AWSCURRENT became current, which "
                f"may hold the credential this step takes away: {held}. {redeploying}. Nothing was changed and "
                "the step will be retried",
                tuple(stale),
            )
        logger.info("no consumer holds the previous credential", extra={"consumers": len(consumers)})


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
