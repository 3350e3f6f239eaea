"""The ECS services that consume a secret: their task definitions inject it with ``secrets[].valueFrom``.

ECS resolves ``valueFrom`` only when a task starts, so a running task keeps the value that was current at
its start. ``find_consumers`` searches the given clusters (read-only, paginated calls; task definitions
cached per call) for services whose primary or still-active deployments inject the secret, in every form
``valueFrom`` accepts: the name, the full ARN, the partial ARN (without the random suffix), and either ARN
followed by ``:json-key:version-stage:version-id``. The secret's tags can add consumers the search cannot
see (``rotation:consumers``) or leave some out (``rotation:not-consumers``): comma-separated
``cluster/service`` pairs. ``running_tasks`` lists a consumer's running tasks and when each was launched,
``stale_tasks`` those that may hold a value older than a given moment, and ``refresh`` starts a new
deployment of a service (its new tasks read the secret again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rotator.consumers.settings import CONSUMERS_TAG, NOT_CONSUMERS_TAG

__all__ = [
    "CONSUMERS_TAG", "NOT_CONSUMERS_TAG", "Consumer", "ConsumerSearch", "RunningTask", "find_consumers",
    "describe", "injects", "refresh", "running_tasks", "stale_tasks", "value_froms",
]  # fmt: skip

_RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
_DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services


def injects(value_from: str, secret_arn: str, secret_name: str) -> bool:
    """Whether ``value_from`` names the secret (``secret_arn`` is complete, with its random suffix)."""
    partial = _RANDOM_SUFFIX.sub("", secret_arn)
    if value_from in (secret_name, secret_arn, partial):
        return True
    return value_from.startswith((f"{secret_arn}:", f"{partial}:")) and value_from.count(":") == 9


@dataclass(frozen=True)
class Consumer:
    """One ECS service that injects the secret; ``declared``: named by the secret's tag, not found.

    ``deployed_at`` and ``rollout`` are its primary deployment's creation time and rollout state (unknown
    for a declared consumer until it is described).
    """

    cluster: str
    service: str
    task_definitions: tuple[str, ...] = ()
    declared: bool = False
    deployed_at: datetime | None = None
    rollout: str | None = None

    @property
    def key(self) -> str:
        return f"{self.cluster.rsplit('/', 1)[-1]}/{self.service.rsplit('/', 1)[-1]}"


@dataclass(frozen=True)
class RunningTask:
    """A running task of a consumer service and when ECS launched it (``createdAt``, else ``startedAt``)."""

    arn: str
    launched_at: datetime | None

    def launched_before(self, moment: datetime) -> bool:
        """Whether it may hold a value older than ``moment``.

        ECS reads ``valueFrom`` after it creates a task and before its containers start, so a task created
        after ``moment`` holds the newer value; one created before may not (an unknown time counts as before).
        """
        return self.launched_at is None or self.launched_at < moment


@dataclass
class ConsumerSearch:
    """What a search found, and the clusters it could not search (missing, or access denied)."""

    consumers: list[Consumer] = field(default_factory=list)
    unsearched: dict[str, str] = field(default_factory=dict)


def _pairs(tags: Mapping[str, str], key: str) -> set[str]:
    return {pair.strip() for pair in tags.get(key, "").split(",") if pair.strip()}


def _services(ecs: Any, cluster: str) -> Iterator[dict[str, Any]]:
    arns = [arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]]
    for start in range(0, len(arns), _DESCRIBE_BATCH):
        yield from ecs.describe_services(cluster=cluster, services=arns[start : start + _DESCRIBE_BATCH])["services"]


def _deployments(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A service's primary and still-active deployments (tasks may run either), primary first."""
    deployments = [d for d in service.get("deployments", []) if d.get("status") in ("PRIMARY", "ACTIVE")]
    return sorted(deployments, key=lambda d: d.get("status") != "PRIMARY")


def _consumer(cluster: str, service: Mapping[str, Any], declared: bool = False) -> Consumer:
    deployments = _deployments(service)
    primary = deployments[0] if deployments and deployments[0].get("status") == "PRIMARY" else {}
    return Consumer(
        cluster, str(service["serviceName"]), tuple(d["taskDefinition"] for d in deployments), declared,
        primary.get("createdAt"), primary.get("rolloutState"),
    )  # fmt: skip


def value_froms(ecs: Any, task_definition: str) -> list[str]:
    """The ``valueFrom`` of every container secret of a task definition."""
    document = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return [entry["valueFrom"] for container in document.get("containerDefinitions", [])
            for entry in container.get("secrets", [])]  # fmt: skip


def find_consumers(
    ecs: Any, clusters: Iterable[str], secret_arn: str, secret_name: str, tags: Mapping[str, str] | None = None
) -> ConsumerSearch:
    """The services in ``clusters`` whose primary or active deployments inject the secret, plus the tag's."""
    from botocore.exceptions import ClientError

    tags = tags or {}
    excluded = _pairs(tags, NOT_CONSUMERS_TAG)
    definitions: dict[str, list[str]] = {}  # task definition ARN -> the valueFrom of every container secret
    search = ConsumerSearch()
    for cluster in clusters:
        try:
            for service in _services(ecs, cluster):
                if service.get("status") != "ACTIVE":
                    continue
                found = _consumer(cluster, service)
                for arn in found.task_definitions:
                    if arn not in definitions:
                        definitions[arn] = value_froms(ecs, arn)
                values = (value for arn in found.task_definitions for value in definitions[arn])
                if found.key not in excluded and any(injects(value, secret_arn, secret_name) for value in values):
                    search.consumers.append(found)
        except ClientError as exc:
            search.unsearched[cluster] = exc.response.get("Error", {}).get("Code", "error")
    known = {consumer.key for consumer in search.consumers}
    for pair in sorted(_pairs(tags, CONSUMERS_TAG) - known - excluded):
        cluster_name, _, service_name = pair.partition("/")
        search.consumers.append(Consumer(cluster_name, service_name, declared=True))
    return search


def running_tasks(ecs: Any, consumer: Consumer) -> list[RunningTask]:
    """The consumer's running tasks, each with its start time."""
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster=consumer.cluster, serviceName=consumer.service, desiredStatus="RUNNING"
    )
    arns = [arn for page in pages for arn in page["taskArns"]]
    tasks: list[RunningTask] = []
    for start in range(0, len(arns), 100):  # DescribeTasks takes at most 100 tasks
        for task in ecs.describe_tasks(cluster=consumer.cluster, tasks=arns[start : start + 100])["tasks"]:
            tasks.append(RunningTask(task["taskArn"], task.get("createdAt") or task.get("startedAt")))
    return tasks


def stale_tasks(ecs: Any, consumer: Consumer, moment: datetime) -> list[RunningTask]:
    """The consumer's running tasks that may hold a value older than ``moment``."""
    return [task for task in running_tasks(ecs, consumer) if task.launched_before(moment)]


def describe(ecs: Any, consumer: Consumer) -> Consumer:
    """The consumer as ECS describes it now (its primary deployment's time and rollout state)."""
    services = ecs.describe_services(cluster=consumer.cluster, services=[consumer.service])["services"]
    if not services:
        return consumer
    return _consumer(consumer.cluster, services[0], consumer.declared)


def refresh(ecs: Any, consumer: Consumer) -> Consumer:
    """A new deployment of the service (``forceNewDeployment``): its new tasks read the secret again."""
    service = ecs.update_service(cluster=consumer.cluster, service=consumer.service, forceNewDeployment=True)
    return _consumer(consumer.cluster, service["service"], consumer.declared)
