"""After a rotation, every ECS consumer of the secret starts tasks that read the new value.

EventBridge invokes this function, never finishSecret (a rotation neither waits nor fails because of ECS):

* Secrets Manager's ``RotationSucceeded`` (delivered through CloudTrail, ``additionalEventData.SecretId``):
  each consumer service (``rotator.consumers.discovery``) gets ``UpdateService`` with ``forceNewDeployment``;
* ECS's ``SERVICE_DEPLOYMENT_FAILED`` (the deployment circuit breaker) for a service of the consumer
  clusters that injects a Secrets Manager secret: its tasks may keep a superseded value, so it is an alarm that
  says whether ECS rolled the deployment back (only when the breaker's rollback is on);
* a consumer deployed by CodeDeploy or an external controller is never counted as refreshed
  (``UpdateService`` cannot redeploy it): the alarm says what to run.

Every refreshed service and every failure is logged; ``ConsumersRefreshed`` and ``ConsumerRefreshFailed``
are counted; failures (a service that cannot be updated, a cluster that cannot be searched, a failed
deployment) are published to the alarm topic (``ROTATION_ALARM_TOPIC_ARN``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rotator.aws.secrets_manager import SecretsManager
from rotator.consumers.discovery import Consumer, describe, refresh, value_froms
from rotator.consumers.guard import ConsumerGuard
from rotator.consumers.settings import ENV_ALARM_TOPIC_ARN, ConsumerSettings
from rotator.core.boundary import lambda_log_keys
from rotator.errors import ConsumerCheckError, EventError
from rotator.observability import logger, metrics

__all__ = ["RefreshFunction", "refresh_handler"]


class RefreshFunction:
    """The Lambda handler: refresh consumers after a rotation, alarm on a rolled-back refresh."""

    def __init__(self, sm: SecretsManager, guard: ConsumerGuard, topic_arn: str | None, sns: Any = None) -> None:
        self.sm = sm
        self.guard = guard
        self.topic_arn = topic_arn
        self._sns = sns

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        with lambda_log_keys(context):
            return self._handle(event)

    def _handle(self, event: Any) -> dict[str, Any]:
        if not isinstance(event, Mapping) or not isinstance(event.get("detail"), Mapping):
            raise EventError("event must be an EventBridge event with a detail object")
        detail = event["detail"]
        if detail.get("eventName") == "RotationSucceeded":
            secret_id = (detail.get("additionalEventData") or {}).get("SecretId")
            if not isinstance(secret_id, str) or not secret_id:
                raise EventError("RotationSucceeded event lacks additionalEventData.SecretId")
            return self.after_rotation(secret_id)
        if detail.get("eventName") == "SERVICE_DEPLOYMENT_FAILED":
            return self.after_failed_deployment(event.get("resources") or [], detail)
        raise EventError(f"unexpected event {detail.get('eventName')!r}")

    def after_rotation(self, secret_id: str) -> dict[str, Any]:
        """A new deployment of every consumer service of the secret."""
        from botocore.exceptions import ClientError

        description = self.sm.describe(secret_id)
        logger.thread_safe_append_keys(secret=description.name)
        try:
            consumers = self.guard.consumers(description)
        except ConsumerCheckError as exc:
            self._failed(f"consumers of {description.name} were not refreshed: {exc}", count=1)
            raise
        refreshed, failed = [], []
        for consumer in consumers:
            if not consumer.redeployable:  # never counted as refreshed: an operator must redeploy it
                failed.append(consumer.how_to_redeploy())
                logger.error("consumer not refreshed", extra={"consumer": consumer.key, "error": consumer.controller})
                continue
            try:
                refresh(self.guard.ecs, consumer)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "error")
                failed.append(f"{consumer.key} ({code})")
                logger.error("consumer not refreshed", extra={"consumer": consumer.key, "error": code})
                continue
            refreshed.append(consumer.key)
            logger.info("consumer refreshed", extra={"consumer": consumer.key})
        _count("ConsumersRefreshed", len(refreshed))
        if failed:
            self._failed(
                f"after the rotation of {description.name}, these ECS services were not redeployed and keep "
                f"the old value: {'; '.join(failed)}. Redeploy them before the previous credential is revoked.",
                count=len(failed),
            )
        return {"secret": description.name, "refreshed": refreshed, "failed": failed}

    def after_failed_deployment(self, resources: list[Any], detail: Mapping[str, Any]) -> dict[str, Any]:
        """Alarm when a consumer cluster's service that injects a secret failed a deployment."""
        service_arn = str(resources[0]) if resources else ""
        cluster, _, service = service_arn.partition(":service/")[2].partition("/")
        clusters = {name.rsplit("/", 1)[-1] for name in self.guard.settings.clusters}
        if not service or cluster not in clusters:
            return {"service": service_arn, "alarm": False}
        consumer = describe(self.guard.ecs, Consumer(cluster, service))
        injected = self._injected_secrets(consumer)
        if not injected:
            return {"service": service_arn, "alarm": False}
        self._failed(
            f"{consumer.failed_deployment()} (deployment {detail.get('deploymentId', '?')}: "
            f"{detail.get('reason', 'no reason given')}): its tasks may still hold superseded values of "
            f"{', '.join(injected)}. Steps that revoke them wait until it is redeployed.",
            count=1,
        )
        return {"service": service_arn, "alarm": True, "secrets": injected}

    def _injected_secrets(self, consumer: Consumer) -> list[str]:
        """The Secrets Manager secrets the consumer's live task definitions name (a bare name is a parameter)."""
        values = {value for arn in consumer.task_definitions for value in value_froms(self.guard.ecs, arn)}
        return sorted(value for value in values if ":secretsmanager:" in value)

    def _failed(self, message: str, *, count: int) -> None:
        logger.error("consumer refresh failed", extra={"error": message})
        _count("ConsumerRefreshFailed", count)
        if self.topic_arn:
            if self._sns is None:
                from rotator.aws.clients import aws_client

                self._sns = aws_client("sns")
            body = json.dumps({"problem": "consumer refresh failed", "detail": message})
            self._sns.publish(TopicArn=self.topic_arn, Subject="Secret rotation: consumers not refreshed", Message=body)


def _count(name: str, value: int) -> None:
    metrics.clear_metrics()
    metrics.add_dimension(name="function", value="refresh_consumers")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


def refresh_handler(environ: Mapping[str, str] | None = None) -> RefreshFunction:
    """The refresh function, configured from the environment once, at cold start."""
    env = os.environ if environ is None else environ
    settings = ConsumerSettings.from_env(env)
    return RefreshFunction(SecretsManager(), ConsumerGuard(settings), env.get(ENV_ALARM_TOPIC_ARN) or None)
