"""ECS consumers on the moto server: clusters, services whose task definitions inject secrets, running tasks.

moto models the ECS API but not time, rollouts or services' tasks: a task has no start time, a new
deployment replaces the old one at once, and ``ListTasks`` ignores ``serviceName`` (a TODO in moto's
source). ECS keeps the old deployment ACTIVE (its tasks still running) while the new PRIMARY one rolls out,
reports each task's ``createdAt``/``startedAt``, and lists a service's tasks (their ``group`` is
``service:<name>``). ``roll_out``, ``start_tasks`` and ``model_service_tasks`` model these on moto's
backend (the server runs in this process).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.moto_server import ACCOUNT_ID, REGION

__all__ = [
    "add_container_host", "begin_rollout", "circuit_breaker", "deployed_at", "end_rollout", "inject",
    "model_service_tasks", "replace_tasks", "roll_out", "serve_secret", "start_tasks",
]  # fmt: skip


def _backend() -> Any:
    from moto.backends import get_backend

    return get_backend("ecs")[ACCOUNT_ID][REGION]


def add_container_host(ecs: Any, ec2: Any, cluster: str) -> None:
    """Create ``cluster`` with one EC2 container instance, so tasks can run in it."""
    ecs.create_cluster(clusterName=cluster)
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    document = {"instanceId": instance, "region": REGION, "availabilityZone": f"{REGION}a", "accountId": ACCOUNT_ID,
                "instanceType": "t3.micro", "imageId": "ami-12c6146b", "privateIp": "10.0.0.10"}  # fmt: skip
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(document))


def inject(ecs: Any, family: str, *value_froms: str) -> str:
    """Register a task definition whose container gets each ``valueFrom`` as a secret; returns its ARN."""
    secrets = [{"name": f"SECRET_{n}", "valueFrom": value} for n, value in enumerate(value_froms)]
    container = {"name": family, "image": "app:latest", "memory": 256, "secrets": secrets}
    return str(ecs.register_task_definition(family=family, containerDefinitions=[container])["taskDefinition"]
               ["taskDefinitionArn"])  # fmt: skip


def roll_out(cluster: str, service: str, task_definition: str) -> None:
    """A new PRIMARY deployment of ``task_definition`` while the old one stays ACTIVE, as during an ECS rollout."""
    found = _backend().services[f"{cluster}:{service}"]
    previous = [dict(d, status="ACTIVE") for d in found.deployments if d["status"] == "PRIMARY"]
    primary = dict(found.deployments[0], status="PRIMARY", taskDefinition=task_definition, id=f"ecs-svc/{service}-2")
    found.deployments = [primary, *previous]
    found.task_definition = task_definition


def circuit_breaker(cluster: str, service: str, *, rollback: bool) -> None:
    """Turn on the service's deployment circuit breaker, rolling back a failed deployment or not (moto accepts
    ``deploymentConfiguration`` but keeps none of it)."""
    breaker = {"enable": True, "rollback": rollback}
    _backend().services[f"{cluster}:{service}"].deployment_configuration = {"deploymentCircuitBreaker": breaker}


def begin_rollout(cluster: str, service: str) -> None:
    """After ``UpdateService`` (moto made its deployment the new PRIMARY at once): the PRIMARY rolls out
    (``IN_PROGRESS``) while the deployment it replaces stays ACTIVE, its tasks still running."""
    found = _backend().services[f"{cluster}:{service}"]
    primary = found.deployments[0]
    replaced = dict(primary, id=f"{primary['id']}-replaced", status="ACTIVE", rolloutState="COMPLETED")
    primary["rolloutState"] = "IN_PROGRESS"
    found.deployments = [primary, replaced]


def end_rollout(cluster: str, service: str, state: str) -> None:
    """The PRIMARY deployment ``COMPLETED`` (or ``FAILED``: the circuit breaker rolled it back); the ACTIVE one
    is gone either way (its tasks were replaced, or they are the service's again)."""
    found = _backend().services[f"{cluster}:{service}"]
    found.deployments = [dict(found.deployments[0], rolloutState=state)]


def deployed_at(cluster: str, service: str, at: datetime) -> None:
    """Date the service's primary deployment ``at`` (a service deployed before the sandbox started)."""
    for deployment in _backend().services[f"{cluster}:{service}"].deployments:
        if deployment["status"] == "PRIMARY":
            deployment["createdAt"] = deployment["updatedAt"] = at


def model_service_tasks() -> None:
    """``ListTasks(serviceName=…)`` lists that service's tasks only, as ECS does (idempotent)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.list_tasks
    if getattr(original, "by_service", False):
        return

    def list_tasks(
        self: Any,
        cluster_str: Any = None,
        container_instance: Any = None,
        family: Any = None,
        started_by: Any = None,
        service_name: Any = None,
        desiredStatus: Any = None,
    ) -> Any:
        tasks = original(self, cluster_str, container_instance, family, started_by, None, desiredStatus)
        if service_name:
            tasks = [task for task in tasks if task.group == f"service:{service_name.rsplit('/', 1)[-1]}"]
        return tasks

    list_tasks.by_service = True  # type: ignore[attr-defined]
    EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]


def start_tasks(ecs: Any, cluster: str, service: str, task_definition: str, count: int, at: datetime) -> list[str]:
    """Run ``count`` tasks of ``service`` created and started at ``at`` (ECS read their secrets then)."""
    model_service_tasks()
    tasks = ecs.run_task(cluster=cluster, taskDefinition=task_definition, count=count, startedBy=service,
                         group=f"service:{service}")["tasks"]  # fmt: skip
    arns = [task["taskArn"] for task in tasks]
    for task in _backend().tasks[cluster].values():
        if task.task_arn in arns:
            task.started_at = task.created_at = at
    return arns


def serve_secret(ecs: Any, cluster: str, service: str, secret: str, launched: datetime) -> None:
    """A service injecting ``secret``, deployed with one task at ``launched`` (it read the value then)."""
    definition = inject(ecs, service, secret)
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=definition, desiredCount=1)
    deployed_at(cluster, service, launched)
    start_tasks(ecs, cluster, service, definition, 1, launched)


def replace_tasks(ecs: Any, cluster: str, service: str, at: datetime | None = None) -> None:
    """What a finished deployment leaves: one task launched ``at`` (default: just now; it read the value current
    then), the old ones gone. A CodeDeploy or external service's task runs its newest task set's definition."""
    old = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    found = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    sets = sorted(found.get("taskSets", []), key=lambda task_set: task_set["createdAt"])
    definition = sets[-1]["taskDefinition"] if sets else found["taskDefinition"]
    start_tasks(ecs, cluster, service, definition, 1, at or datetime.now(UTC) + timedelta(seconds=1))
    for task in old:
        ecs.stop_task(cluster=cluster, task=task)
