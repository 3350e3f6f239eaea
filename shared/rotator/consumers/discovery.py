"""The ECS services that consume a secret: their task definitions name it in a ``valueFrom``.

ECS resolves ``valueFrom`` only when a task starts, so a running task keeps the value that was current at
its start. A task definition names a Secrets Manager secret by its full ARN or partial ARN (without the random
suffix), optionally followed by ``:json-key:version-stage:version-id``; a bare name is an SSM parameter ("If
the SSM Parameter Store parameter exists in the same Region as the task you're launching, then you can use
either the full ARN or name of the parameter", the ECS API's ``Secret.valueFrom``). It does so in a container's
``secrets``, its ``logConfiguration.secretOptions`` and its ``repositoryCredentials.credentialsParameter``.

``find_consumers`` searches the given clusters (read-only, paginated calls; task definitions cached per call)
for services whose live task definitions name the secret: the primary and still-active deployments of a
service with the ``ECS`` deployment controller, the task sets of one with ``CODE_DEPLOY`` or ``EXTERNAL``
(their task definitions live in ``taskSets``, not ``deployments``). The secret's tags can add consumers the
search cannot see (``rotation:consumers``) or leave some out (``rotation:not-consumers``): comma-separated
``cluster/service`` pairs. ``running_tasks`` lists a consumer's running tasks and when each was launched,
``stale_tasks`` those that may hold a value older than a given moment, and ``refresh`` starts a new
deployment of a service (its new tasks read the secret again): only the ``ECS`` controller can (UpdateService:
"For services using the blue/green (CODE_DEPLOY) deployment controller, only the desired count, deployment
configuration, health check grace period, task placement constraints and strategies, enable ECS managed tags
option, and propagate tags can be updated using this API"); ``Consumer.how_to_redeploy`` tells an operator
what to run for the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rotator.consumers.settings import CONSUMERS_TAG, NOT_CONSUMERS_TAG

__all__ = [
    "CONSUMERS_TAG", "NOT_CONSUMERS_TAG", "Consumer", "ConsumerSearch", "RunningTask", "declared_clusters",
    "describe", "find_consumers", "injects", "refresh", "running_tasks", "stale_tasks", "value_froms",
]  # fmt: skip

_RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
_DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services


def injects(value_from: str, secret_arn: str) -> bool:
    """Whether ``value_from`` names the secret (``secret_arn`` is complete, with its random suffix)."""
    partial = _RANDOM_SUFFIX.sub("", secret_arn)
    if value_from in (secret_arn, partial):
        return True
    return value_from.startswith((f"{secret_arn}:", f"{partial}:")) and value_from.count(":") == 9


@dataclass(frozen=True)
class Consumer:
    """One ECS service that injects the secret; ``declared``: named by the secret's tag, not found.

    ``deployed_at`` and ``rollout`` are its primary deployment's (or newest task set's) creation time and
    rollout state; ``controller`` its deployment controller (unknown for a declared consumer not described).
    """

    cluster: str
    service: str
    task_definitions: tuple[str, ...] = ()
    declared: bool = False
    deployed_at: datetime | None = None
    rollout: str | None = None
    controller: str = "ECS"
    rolls_back: bool = False  # the deployment circuit breaker's rollback is on

    def failed_deployment(self) -> str:
        """What a failed deployment (``rolloutState`` FAILED, ``SERVICE_DEPLOYMENT_FAILED``) left running. The
        circuit breaker "will transition to a failed state and stop launching new tasks"; only with rollback on
        is "the service ... rolled back to the last deployment that completed successfully" (the ECS API's
        ``DeploymentCircuitBreaker``)."""
        if self.rolls_back:
            return f"the deployment of {self.key} failed and ECS rolled it back to its last completed deployment"
        return (f"the deployment of {self.key} failed; its circuit breaker's rollback is off, so ECS stopped "
                "launching its tasks and rolled nothing back")  # fmt: skip

    @property
    def key(self) -> str:
        return f"{self.cluster.rsplit('/', 1)[-1]}/{self.service.rsplit('/', 1)[-1]}"

    @property
    def redeployable(self) -> bool:
        """Whether ``UpdateService`` with ``forceNewDeployment`` starts new tasks (the ECS controller only)."""
        return self.controller == "ECS"

    def how_to_redeploy(self) -> str:
        """What an operator runs to start tasks that read the secret again."""
        cluster, service = self.key.split("/")
        definition = self.task_definitions[0] if self.task_definitions else "<its task definition>"
        if self.controller == "CODE_DEPLOY":
            return (f"{self.key} is deployed by CodeDeploy (blue/green), which forceNewDeployment cannot redeploy: "
                    f"run `aws deploy create-deployment` for its application and deployment group with "
                    f"{definition}")  # fmt: skip
        if self.controller == "EXTERNAL":
            return (f"{self.key} has an external deployment controller: have it create a new task set "
                    f"(`aws ecs create-task-set --cluster {cluster} --service {service} --task-definition "
                    f"{definition} …`) and move the service to it")  # fmt: skip
        return f"`aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment`"


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


def declared_clusters(tags: Mapping[str, str]) -> set[str]:
    """The cluster names the secret's ``rotation:consumers`` tag declares consumers in."""
    return {pair.partition("/")[0] for pair in _pairs(tags, CONSUMERS_TAG)}


def _services(ecs: Any, cluster: str) -> Iterator[dict[str, Any]]:
    arns = [arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster) for arn in page["serviceArns"]]
    for start in range(0, len(arns), _DESCRIBE_BATCH):
        yield from ecs.describe_services(cluster=cluster, services=arns[start : start + _DESCRIBE_BATCH])["services"]


def _deployments(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Where a service's tasks may run, primary first: its primary and still-active deployments (the ECS
    controller), or its task sets (CODE_DEPLOY, EXTERNAL; a draining one still runs tasks)."""
    if _controller(service) == "ECS":
        live = [d for d in service.get("deployments", []) if d.get("status") in ("PRIMARY", "ACTIVE")]
    else:
        live = [s for s in service.get("taskSets", []) if s.get("status") in ("PRIMARY", "ACTIVE", "DRAINING")]
    return sorted(live, key=lambda d: d.get("status") != "PRIMARY")


def _controller(service: Mapping[str, Any]) -> str:
    return str((service.get("deploymentController") or {}).get("type") or "ECS")


def _consumer(cluster: str, service: Mapping[str, Any], declared: bool = False) -> Consumer:
    deployments, controller = _deployments(service), _controller(service)
    if controller == "ECS":
        primary = deployments[0] if deployments and deployments[0].get("status") == "PRIMARY" else {}
    else:  # the newest task set: an external controller may leave every set ACTIVE
        primary = max(deployments, key=lambda d: d.get("createdAt") or datetime.min.replace(tzinfo=UTC), default={})
    return Consumer(
        cluster, str(service["serviceName"]), tuple(d["taskDefinition"] for d in deployments), declared,
        primary.get("createdAt"), primary.get("rolloutState"), controller, _rolls_back(service),
    )  # fmt: skip


def _rolls_back(service: Mapping[str, Any]) -> bool:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable") and breaker.get("rollback"))


def value_froms(ecs: Any, task_definition: str) -> list[str]:
    """Every secret or parameter a task definition's containers name: ``secrets``, the log driver's
    ``secretOptions`` and the private registry's ``repositoryCredentials``."""
    document = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    found: list[str] = []
    for container in document.get("containerDefinitions", []):
        options = (container.get("logConfiguration") or {}).get("secretOptions", [])
        found.extend(entry["valueFrom"] for entry in [*container.get("secrets", []), *options])
        registry = (container.get("repositoryCredentials") or {}).get("credentialsParameter")
        if registry:
            found.append(registry)
    return found


def find_consumers(
    ecs: Any, clusters: Iterable[str], secret_arn: str, tags: Mapping[str, str] | None = None
) -> ConsumerSearch:
    """The services in ``clusters`` whose live task definitions inject the secret, plus the tag's (described
    when their cluster is searched)."""
    from botocore.exceptions import ClientError

    tags = tags or {}
    excluded = _pairs(tags, NOT_CONSUMERS_TAG)
    definitions: dict[str, list[str]] = {}  # task definition ARN -> every valueFrom it names
    search = ConsumerSearch()
    searched = {cluster.rsplit("/", 1)[-1]: cluster for cluster in clusters}
    for cluster in searched.values():
        try:
            for service in _services(ecs, cluster):
                if service.get("status") != "ACTIVE":
                    continue
                found = _consumer(cluster, service)
                for arn in found.task_definitions:
                    if arn not in definitions:
                        definitions[arn] = value_froms(ecs, arn)
                values = (value for arn in found.task_definitions for value in definitions[arn])
                if found.key not in excluded and any(injects(value, secret_arn) for value in values):
                    search.consumers.append(found)
        except ClientError as exc:
            search.unsearched[cluster] = exc.response.get("Error", {}).get("Code", "error")
    known = {consumer.key for consumer in search.consumers}
    for pair in sorted(_pairs(tags, CONSUMERS_TAG) - known - excluded):
        cluster_name, _, service_name = pair.partition("/")
        cluster = searched.get(cluster_name, cluster_name)
        declared = Consumer(cluster, service_name, declared=True)
        if cluster_name in searched and cluster not in search.unsearched:
            try:
                declared = describe(ecs, declared)
            except ClientError as exc:
                search.unsearched[cluster] = exc.response.get("Error", {}).get("Code", "error")
        search.consumers.append(declared)
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
    """A new deployment of the service (``forceNewDeployment``): its new tasks read the secret again. Only for
    a ``redeployable`` consumer (the ECS controller)."""
    if not consumer.redeployable:
        raise ValueError(f"{consumer.key}: {consumer.controller} services are not redeployed by UpdateService")
    service = ecs.update_service(cluster=consumer.cluster, service=consumer.service, forceNewDeployment=True)
    return _consumer(consumer.cluster, service["service"], consumer.declared)
