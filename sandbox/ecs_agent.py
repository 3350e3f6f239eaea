"""ECS for the sandbox's consumer services: real processes that get the secret once, at launch.

``EcsAgent.run_service`` registers a task definition that injects the secret (``valueFrom``) and a service
in the agent's cluster, and launches its tasks: each is a ``sandbox.consumer_task`` process given the value
that is AWSCURRENT at its launch, as ECS resolves ``valueFrom``. When ``UpdateService`` forces a new
deployment (the refresh function, the consumer guard, an operator), the agent rolls it out as ECS does: the
new deployment is PRIMARY and ``IN_PROGRESS`` while the old one stays ACTIVE with its tasks running; once
every new task has logged in, the old ones stop and the rollout is ``COMPLETED``. A new task whose first
login is refused fails the rollout (the circuit breaker): the new tasks stop, the old keep running, the rollout
is ``FAILED`` and ``SERVICE_DEPLOYMENT_FAILED`` goes to each ``on_event`` callback. A service made with
``stalls`` never finishes a rollout; one made ``broken`` launches new tasks that cannot log in (a bad
image), so its rollouts fail.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.ecs_world import begin_rollout, circuit_breaker, end_rollout, inject, model_service_tasks, start_tasks
from sandbox.moto_server import ACCOUNT_ID, REGION, MotoServer

__all__ = ["ConsumerService", "EcsAgent"]


@dataclass
class _Task:
    arn: str
    process: subprocess.Popen[str]
    first_login: threading.Event = field(default_factory=threading.Event)
    first_ok: bool = False


@dataclass
class ConsumerService:
    """One service of consumer tasks, and every login its tasks attempted."""

    cluster: str
    name: str
    secret_arn: str
    label: str  # the sandbox.harness entry whose ``works`` is the login
    count: int
    stalls: bool = False
    broken: bool = False
    tasks: list[_Task] = field(default_factory=list)
    logins: int = 0
    refused: int = 0
    rollouts: int = 0  # completed
    lock: threading.Lock = field(default_factory=threading.Lock)
    rollout_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.name}"


class EcsAgent:
    """Runs consumer services in ``cluster`` and rolls out their forced deployments."""

    def __init__(self, moto: MotoServer, cluster: str, *, interval: float = 0.05) -> None:
        import boto3

        self.cluster = cluster
        self.interval = interval
        self.services: dict[str, ConsumerService] = {}
        self.on_event: list[Callable[[dict[str, Any]], None]] = []
        self._sm, self._ecs = boto3.client("secretsmanager"), boto3.client("ecs")
        model_service_tasks()
        moto.log.after_call["UpdateService"] = self._updated

    def run_service(
        self, secret_arn: str, label: str, *, count: int = 2, stalls: bool = False, broken: bool = False
    ) -> ConsumerService:
        """A service whose ``count`` tasks inject ``secret_arn`` and log in as ``label``'s harness does."""
        name = "app-" + "".join(ch if ch.isalnum() else "-" for ch in label.split(" ")[0]) + "-" + secrets.token_hex(2)
        definition = inject(self._ecs, name, secret_arn)
        self._ecs.create_service(cluster=self.cluster, serviceName=name, taskDefinition=definition, desiredCount=count)
        circuit_breaker(self.cluster, name, rollback=True)  # how the agent ends a failed rollout
        service = ConsumerService(self.cluster, name, secret_arn, label, count, stalls)
        service.tasks = self._launch(service, definition)
        service.broken = broken  # its first tasks run; the ones a deployment launches do not
        self.services[name] = service
        return service

    def wait_until_settled(self, timeout: float = 30.0) -> None:
        """Until no rollout is under way (for measurements between rotations)."""
        for service in self.services.values():
            if service.rollout_lock.acquire(timeout=timeout):
                service.rollout_lock.release()

    def stop_service(self, service: ConsumerService) -> None:
        """Stop the service's tasks and forget it (its rollouts no longer run)."""
        with service.rollout_lock:
            self._retire(service, service.tasks)
            service.tasks = []
        self.services.pop(service.name, None)

    def close(self) -> None:
        for service in self.services.values():
            self._retire(service, service.tasks)

    def _launch(self, service: ConsumerService, definition: str) -> list[_Task]:
        created = datetime.now(UTC)  # ECS creates the task, then reads valueFrom before its containers start
        value = str(self._sm.get_secret_value(SecretId=service.secret_arn)["SecretString"])
        value = "" if service.broken else value
        arns = start_tasks(self._ecs, self.cluster, service.name, definition, service.count, created)
        tasks = []
        for arn in arns:
            process = subprocess.Popen(
                [sys.executable, "-m", "sandbox.consumer_task", service.label, str(self.interval)],
                env={**os.environ, "SECRET_VALUE": value}, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            task = _Task(arn, process)
            threading.Thread(target=self._count, args=(service, task), daemon=True).start()
            tasks.append(task)
        return tasks

    @staticmethod
    def _count(service: ConsumerService, task: _Task) -> None:
        assert task.process.stdout is not None
        for line in task.process.stdout:
            ok = line.strip() == "ok"
            with service.lock:
                service.logins += 1
                service.refused += not ok
            if not task.first_login.is_set():
                task.first_ok = ok
                task.first_login.set()
        task.first_login.set()

    def _updated(self, body: dict[str, Any]) -> None:
        service = self.services.get(str(body.get("service", "")).rsplit("/", 1)[-1])
        if service is not None and body.get("forceNewDeployment"):
            begin_rollout(self.cluster, service.name)
            threading.Thread(target=self._roll_out, args=(service,), daemon=True).start()

    def _roll_out(self, service: ConsumerService) -> None:
        with service.rollout_lock:
            if service.stalls:
                return
            definition = self._ecs.describe_services(cluster=self.cluster, services=[service.name])["services"][0]
            new = self._launch(service, definition["taskDefinition"])
            if all(task.first_login.wait(30) and task.first_ok for task in new):
                old, service.tasks = service.tasks, new
                self._retire(service, old)
                end_rollout(self.cluster, service.name, "COMPLETED")
                service.rollouts += 1
                return
            self._retire(service, new)
            end_rollout(self.cluster, service.name, "FAILED")
            event = {
                "source": "aws.ecs", "detail-type": "ECS Deployment State Change",
                "resources": [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/{self.cluster}/{service.name}"],
                "detail": {"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                           "reason": "ECS deployment circuit breaker: tasks failed to start."},
            }  # fmt: skip
            for callback in self.on_event:
                callback(event)

    def _retire(self, service: ConsumerService, tasks: list[_Task]) -> None:
        for task in tasks:
            task.process.terminate()
        for task in tasks:
            try:
                task.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                task.process.kill()
            self._ecs.stop_task(cluster=self.cluster, task=task.arn, reason="replaced by a new deployment")
