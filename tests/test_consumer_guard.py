"""No credential is taken away while a running ECS consumer holds it; revokePrevious; the refresh function.

Real PostgreSQL and Redis, ECS and Secrets Manager on the moto server (real HTTP calls from the handlers).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from rotation_cli.__main__ import main as rotation
from rotator.constants import Action, Step
from rotator.consumers.refresh import refresh_handler
from rotator.errors import ConsumerCheckError, PolicyError, StaleConsumersError
from sandbox.ecs_agent import EcsAgent
from sandbox.ecs_world import add_container_host, circuit_breaker, inject, replace_tasks, serve_secret, start_tasks
from sandbox.harness import KindHarness, Targets, by_label
from sandbox.moto_server import Fault, MotoServer
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import digest, emulator_for, engine_for, expect_failure, snapshot
from tests.leak_canary import register_secret, secret_parts

OVERLAPPING = ["postgres (alternating users)", "redis (ACL user via admin)"]


class Consumers:
    """A cluster whose services inject secrets, and the tasks ECS runs for them."""

    def __init__(self) -> None:
        self.ecs = boto3.client("ecs")
        self.cluster = f"amply-{secrets.token_hex(3)}"
        add_container_host(self.ecs, boto3.client("ec2"), self.cluster)

    def service(self, arn: str, *, launched: datetime) -> str:
        """A service deployed with one task at ``launched``, injecting ``arn``; its name."""
        name = f"app-{secrets.token_hex(3)}"
        serve_secret(self.ecs, self.cluster, name, arn, launched)
        return name

    def replace_tasks(self, service: str) -> None:
        replace_tasks(self.ecs, self.cluster, service)

    def deployment(self, service: str) -> dict[str, Any]:
        found = self.ecs.describe_services(cluster=self.cluster, services=[service])["services"][0]
        return dict(next(d for d in found["deployments"] if d["status"] == "PRIMARY"))


def _secret(targets: Targets, harness: KindHarness, emulator: RotateSecretEmulator) -> str:
    """A new secret seeded by ``harness``, rotated by ``emulator``; its ARN."""
    value = harness.seed(targets)
    register_secret(*secret_parts(value))
    arn = str(targets.client.create_secret(Name=f"amply/test/{secrets.token_hex(4)}", SecretString=value)["ARN"])
    emulator.enable_rotation(arn, harness.kind)
    return arn


def _world(targets: Targets, harness: KindHarness, **env: str) -> tuple[Consumers, RotateSecretEmulator, Any, str]:
    consumers = Consumers()
    handler = engine_for(harness.kind, ROTATION_CONSUMER_CLUSTERS=consumers.cluster, **env)
    emulator = emulator_for(handler)
    return consumers, emulator, handler, _secret(targets, harness, emulator)


@pytest.mark.parametrize("label", OVERLAPPING)
def test_a_stale_consumer_is_refreshed_and_its_credential_kept_until_it_is_replaced(
    targets: Targets, fault_free: None, label: str
) -> None:
    harness = by_label(label)
    consumers, emulator, _, arn = _world(targets, harness)
    assert emulator.rotate(arn).ok  # no consumer yet
    held = targets.value(arn, "AWSPREVIOUS")
    service = consumers.service(arn, launched=datetime.now(UTC) - timedelta(days=1))  # it read AWSPREVIOUS
    before = consumers.deployment(service)

    error = expect_failure(targets.client, emulator, arn, Step.SET, StaleConsumersError)
    assert error.services == (f"{consumers.cluster}/{service}",)
    assert service in str(error)
    assert "retried" in str(error)
    assert harness.works(targets, held), "the credential the running task holds was taken away"
    refreshed = consumers.deployment(service)
    assert refreshed["id"] != before["id"], "the guard started a new deployment"

    # Secrets Manager's retry while the deployment still runs: refused again, no second deployment.
    retried = emulator.retry(arn)
    assert isinstance(retried.error, StaleConsumersError)
    assert retried.failed_step is Step.SET
    assert consumers.deployment(service)["id"] == refreshed["id"]
    assert harness.works(targets, held)

    consumers.replace_tasks(service)
    assert emulator.retry(arn).ok
    assert harness.works(targets, targets.value(arn, "AWSCURRENT"))


def test_single_user_with_consumers_is_refused_unless_the_outage_is_accepted(
    targets: Targets, fault_free: None
) -> None:
    harness = by_label("postgres (single user)")
    consumers, emulator, _, arn = _world(targets, harness)
    consumers.service(arn, launched=datetime.now(UTC))
    error = expect_failure(targets.client, emulator, arn, Step.SET, PolicyError)
    assert "alternating users" in str(error)
    assert "ROTATION_ACCEPT_CONSUMER_OUTAGE" in str(error)
    assert harness.works(targets, targets.value(arn, "AWSCURRENT"))

    accepting = emulator_for(engine_for("postgres", ROTATION_CONSUMER_CLUSTERS=consumers.cluster,
                                        ROTATION_ACCEPT_CONSUMER_OUTAGE="true"))  # fmt: skip
    accepting.enable_rotation(arn, "postgres")
    assert accepting.retry(arn).ok


def test_without_consumers_single_user_rotates(targets: Targets, fault_free: None) -> None:
    _, emulator, _, arn = _world(targets, by_label("postgres (single user)"))
    assert emulator.rotate(arn).ok


@pytest.mark.parametrize("fault", [None, Fault("ListServices", times=50)], ids=["missing cluster", "throttled"])
def test_consumers_that_cannot_be_searched_stop_the_step(
    targets: Targets, moto_server: MotoServer, fault_free: None, fault: Fault | None
) -> None:
    harness = by_label("redis (ACL user via admin)")
    clusters = "no-such-cluster" if fault is None else Consumers().cluster
    handler = engine_for("redis", ROTATION_CONSUMER_CLUSTERS=clusters, ROTATION_SM_MAX_ATTEMPTS="2")
    emulator = emulator_for(handler)
    value = harness.seed(targets)
    register_secret(*secret_parts(value))
    arn = str(targets.client.create_secret(Name=f"amply/test/{secrets.token_hex(4)}", SecretString=value)["ARN"])
    emulator.enable_rotation(arn, "redis")
    guard_free = emulator_for(engine_for("redis"))
    guard_free.enable_rotation(arn, "redis")
    assert guard_free.rotate(arn).ok  # an AWSPREVIOUS to protect
    if fault is not None:
        moto_server.log.inject(fault)
    error = expect_failure(targets.client, emulator, arn, Step.SET, ConsumerCheckError)
    code = "ClusterNotFoundException" if fault is None else "ThrottlingException"
    assert code in str(error)
    assert harness.works(targets, targets.value(arn, "AWSPREVIOUS"))


def _revoke(handler: Any, kind: str, arn: str, token: str) -> None:
    handler({"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn, "ClientRequestToken": token},
            LambdaContext(lambda_arn(kind)))  # fmt: skip


@pytest.mark.parametrize("label", OVERLAPPING)
def test_revoke_previous_waits_for_consumers_then_ends_the_overlap(
    targets: Targets, fault_free: None, label: str
) -> None:
    harness = by_label(label)
    consumers, emulator, handler, arn = _world(targets, harness)
    service = consumers.service(arn, launched=datetime.now(UTC) - timedelta(days=1))
    assert emulator.rotate(arn).ok  # the first rotation takes nothing away
    previous, current = targets.value(arn, "AWSPREVIOUS"), targets.value(arn, "AWSCURRENT")
    token = emulator.version_with(arn, "AWSCURRENT")
    assert token is not None
    before = snapshot(targets.client, arn)
    with pytest.raises(StaleConsumersError):
        _revoke(handler, harness.kind, arn, token)
    assert harness.works(targets, previous)
    assert snapshot(targets.client, arn) == before

    consumers.replace_tasks(service)
    _revoke(handler, harness.kind, arn, token)
    assert not harness.works(targets, previous), "AWSPREVIOUS still works after revoke-previous"
    assert harness.works(targets, current)
    _revoke(handler, harness.kind, arn, token)  # idempotent
    assert harness.works(targets, current)
    assert snapshot(targets.client, arn) == before, "revoking changes no version"


def test_revoke_previous_names_the_current_version(targets: Targets, fault_free: None) -> None:
    harness = by_label("redis (ACL user via admin)")
    _, emulator, handler, arn = _world(targets, harness)
    assert emulator.rotate(arn).ok
    previous = emulator.version_with(arn, "AWSPREVIOUS")
    assert previous is not None
    with pytest.raises(Exception, match="not AWSCURRENT"):
        _revoke(handler, "redis", arn, previous)
    assert harness.works(targets, targets.value(arn, "AWSPREVIOUS"))


@pytest.fixture
def alarms(moto_server: MotoServer) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """An alarm topic with a queue subscribed: the topic's ARN and a reader of what reached the queue."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"alarms-{secrets.token_hex(3)}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"alarms-{secrets.token_hex(3)}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return topic, read


def test_the_refresh_function_redeploys_every_consumer_and_alarms_on_failures(
    targets: Targets,
    moto_server: MotoServer,
    fault_free: None,
    alarms: tuple[str, Callable[[], list[Any]]],
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    topic, read = alarms
    consumers = Consumers()
    arn = str(targets.client.create_secret(Name=f"amply/test/{secrets.token_hex(4)}", SecretString="x" * 40)["ARN"])
    services = [consumers.service(arn, launched=datetime.now(UTC)) for _ in range(2)]
    unrelated = consumers.service(f"{arn}-other", launched=datetime.now(UTC))
    before = {service: consumers.deployment(service)["id"] for service in [*services, unrelated]}
    refresh = refresh_handler({"ROTATION_CONSUMER_CLUSTERS": consumers.cluster, "ROTATION_ALARM_TOPIC_ARN": topic})
    rotated = {"detail": {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": arn}}}

    outcome = refresh(rotated)
    assert sorted(outcome["refreshed"]) == sorted(f"{consumers.cluster}/{s}" for s in services)
    assert outcome["failed"] == []
    assert read() == []
    for service in services:
        assert consumers.deployment(service)["id"] != before[service]
    assert consumers.deployment(unrelated)["id"] == before[unrelated]

    moto_server.log.inject(Fault("UpdateService", times=50))
    outcome = refresh(rotated)
    assert outcome["refreshed"] == []
    assert len(outcome["failed"]) == 2
    (message,) = read()
    assert all(service in message["detail"] for service in services)
    assert "ThrottlingException" in message["detail"]
    moto_server.log.clear_faults()

    service_arn = f"arn:aws:ecs:us-east-1:123456789012:service/{consumers.cluster}/{services[0]}"
    reason = "ECS deployment circuit breaker: tasks failed to start."
    failed = {"resources": [service_arn], "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED",
              "deploymentId": "ecs-svc/7", "reason": reason}}  # fmt: skip
    circuit_breaker(consumers.cluster, services[0], rollback=True)
    assert refresh(failed, LambdaContext(lambda_arn("refresh")))["alarm"] is True
    # The warm container's earlier invocations named the secret; this one's lines do not (clear_state).
    alarm = [line for line in log_lines() if line.get("message") == "consumer refresh failed"][-1]
    assert "secret" not in alarm
    assert alarm["function_request_id"]
    assert alarm["cold_start"] is False
    (message,) = read()
    assert "ECS rolled it back" in message["detail"]
    assert arn in message["detail"]
    circuit_breaker(consumers.cluster, services[0], rollback=False)  # the breaker only stops the deployment
    assert refresh(failed)["alarm"] is True
    (message,) = read()
    assert "rollback is off" in message["detail"]
    assert "rolled it back" not in message["detail"]
    elsewhere = {**failed, "resources": [service_arn.replace(consumers.cluster, "other-cluster")]}
    assert refresh(elsewhere)["alarm"] is False
    assert read() == []


@pytest.fixture
def ecs_sandbox(moto_server: MotoServer, fault_free: None) -> Iterator[tuple[EcsAgent, RotateSecretEmulator]]:
    """Consumer services of real processes in a fresh cluster; RotateSecret and Lambda Invoke answered by an
    emulator whose functions guard that cluster, and whose succeeded rotations reach the refresh function."""
    cluster = f"amply-{secrets.token_hex(3)}"
    add_container_host(boto3.client("ecs"), boto3.client("ec2"), cluster)
    agent = EcsAgent(moto_server, cluster)
    emulator = emulator_for(*(engine_for(kind, ROTATION_CONSUMER_CLUSTERS=cluster) for kind in ("postgres", "redis")))
    emulator.on_success.append(refresh_handler({"ROTATION_CONSUMER_CLUSTERS": cluster}))
    moto_server.log.rotate_secret, moto_server.log.invoke_function = emulator.handle_api, emulator.invoke_function
    try:
        yield agent, emulator
    finally:
        moto_server.log.rotate_secret = moto_server.log.invoke_function = None
        moto_server.log.after_call.clear()
        agent.close()


def _consumed(targets: Targets, agent: EcsAgent, emulator: RotateSecretEmulator, label: str, **kw: Any) -> Any:
    arn = _secret(targets, by_label(label), emulator)
    return arn, agent.run_service(arn, label, **kw)


@pytest.mark.parametrize("label", OVERLAPPING)
def test_rotate_wait_consumers_then_revoke_previous_from_the_command_line(
    targets: Targets,
    ecs_sandbox: tuple[EcsAgent, RotateSecretEmulator],
    capsys: pytest.CaptureFixture[str],
    label: str,
) -> None:
    agent, emulator = ecs_sandbox
    harness = by_label(label)
    arn, service = _consumed(targets, agent, emulator, label)
    wait = ["--wait-consumers", "--cluster", agent.cluster, "--timeout", "60", "--poll", "0.2", "--quiet"]
    for _ in range(3):  # each rotation after the first takes a credential away: only once the tasks moved on
        assert rotation(["rotate", arn, *wait]) == 0, capsys.readouterr().err
        assert "1 consumer services run the current value" in capsys.readouterr().out
    assert service.rollouts >= 3
    assert service.refused == 0, "a consumer task lost its credential"
    previous = targets.value(arn, "AWSPREVIOUS")
    assert harness.works(targets, previous)
    assert rotation(["revoke-previous", arn, "--yes"]) == 0, capsys.readouterr().err
    assert not harness.works(targets, previous)
    assert harness.works(targets, targets.value(arn, "AWSCURRENT"))
    assert service.refused == 0


@pytest.mark.parametrize(("kind", "problem"), [("stalls", "rollout IN_PROGRESS"), ("broken", "rolled it back")])
def test_rotate_wait_consumers_reports_a_consumer_that_never_becomes_stable(
    targets: Targets,
    ecs_sandbox: tuple[EcsAgent, RotateSecretEmulator],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    problem: str,
) -> None:
    agent, emulator = ecs_sandbox
    arn, service = _consumed(targets, agent, emulator, "redis (ACL user via admin)", **{kind: True})
    code = rotation(["rotate", arn, "--wait-consumers", "--cluster", agent.cluster, "--timeout", "4", "--poll",
                     "0.2", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert service.key in err
    assert problem in err
    assert service.refused == 0 or kind == "broken", "the old tasks keep working"


def _tags(targets: Targets, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in targets.client.describe_secret(SecretId=arn).get("Tags", [])}


@pytest.mark.parametrize("label", OVERLAPPING)
def test_a_task_launched_during_a_rotation_holds_the_old_value_and_is_stale_at_the_next(
    targets: Targets, fault_free: None, label: str
) -> None:
    """ECS resolves valueFrom at launch: a task launched after createSecret but before finishSecret reads the old
    AWSCURRENT. The version's CreatedDate is createSecret's; the guard judges by the promotion finishSecret
    recorded, so the next rotation keeps that task's credential until it is replaced."""
    harness = by_label(label)
    consumers, emulator, _, arn = _world(targets, harness)
    service = consumers.service(arn, launched=datetime.now(UTC) - timedelta(days=1))
    assert emulator.rotate(arn).ok  # nothing to take away yet
    consumers.replace_tasks(service)
    token = emulator.begin(arn)
    emulator.invoke(arn, token, Step.CREATE)
    held = targets.value(arn, "AWSCURRENT")
    replace_tasks(consumers.ecs, consumers.cluster, service, at=datetime.now(UTC))  # mid-rotation: reads `held`
    for step in (Step.SET, Step.TEST, Step.FINISH):
        emulator.invoke(arn, token, step)
    recorded, _, moment = _tags(targets, arn)["rotation:current-since"].partition(" ")
    assert recorded == token
    assert datetime.fromisoformat(moment) <= datetime.now(UTC)
    assert targets.value(arn, "AWSPREVIOUS") == held

    error = expect_failure(targets.client, emulator, arn, Step.SET, StaleConsumersError)
    assert error.services == (f"{consumers.cluster}/{service}",)
    assert harness.works(targets, held), "the credential a task launched mid-rotation holds was taken away"
    consumers.replace_tasks(service)
    assert emulator.retry(arn).ok
    assert not harness.works(targets, held), "once replaced, the old credential is taken away"
    assert harness.works(targets, targets.value(arn, "AWSCURRENT"))


def test_without_a_promotion_record_every_running_task_counts_as_stale(targets: Targets, fault_free: None) -> None:
    """A value put by hand, or a record lost: when AWSCURRENT became current is unknown, so the guard records
    now and refreshes every consumer once, rather than guess a time that could be too early."""
    harness = by_label("redis (ACL user via admin)")
    consumers, emulator, _, arn = _world(targets, harness)
    service = consumers.service(arn, launched=datetime.now(UTC) - timedelta(days=1))
    assert emulator.rotate(arn).ok
    replace_tasks(consumers.ecs, consumers.cluster, service, at=datetime.now(UTC))  # after the promotion
    targets.client.untag_resource(SecretId=arn, TagKeys=["rotation:current-since"])
    before = consumers.deployment(service)["id"]
    expect_failure(targets.client, emulator, arn, Step.SET, StaleConsumersError)
    assert consumers.deployment(service)["id"] != before, "the guard redeployed the service"
    assert _tags(targets, arn)["rotation:current-since"].startswith(emulator.version_with(arn, "AWSCURRENT") or "?")
    consumers.replace_tasks(service)
    assert emulator.retry(arn).ok, "the recorded time stands: the replaced task is current"


@pytest.mark.parametrize("configured", [False, True], ids=["no consumer clusters", "another cluster"])
def test_a_consumer_tag_naming_a_cluster_the_function_may_not_read_stops_the_step(
    targets: Targets, fault_free: None, configured: bool
) -> None:
    """The template grants ECS reads on ConsumerClusters only: a tag naming another cluster is a clear error
    before anything changes, not an AccessDenied on every retry."""
    harness = by_label("redis (ACL user via admin)")
    env = {"ROTATION_CONSUMER_CLUSTERS": Consumers().cluster} if configured else {}
    emulator = emulator_for(engine_for("redis", **env))
    arn = _secret(targets, harness, emulator)
    assert emulator.rotate(arn).ok  # no AWSPREVIOUS yet: nothing to protect
    targets.client.tag_resource(SecretId=arn, Tags=[{"Key": "rotation:consumers", "Value": "batch/nightly-report"}])
    error = expect_failure(targets.client, emulator, arn, Step.SET, ConsumerCheckError)
    assert "batch" in str(error)
    assert "ConsumerClusters" in str(error)
    assert harness.works(targets, targets.value(arn, "AWSPREVIOUS"))


def _blue_green(consumers: Consumers, arn: str, launched: datetime) -> str:
    """A CodeDeploy (blue/green) service whose task set injects ``arn``, one task launched at ``launched``."""
    name = f"bg-{secrets.token_hex(3)}"
    definition = inject(consumers.ecs, name, arn)
    consumers.ecs.create_service(cluster=consumers.cluster, serviceName=name, desiredCount=1,
                                 deploymentController={"type": "CODE_DEPLOY"})  # fmt: skip
    consumers.ecs.create_task_set(cluster=consumers.cluster, service=name, taskDefinition=definition, externalId="x")
    start_tasks(consumers.ecs, consumers.cluster, name, definition, 1, launched)
    return name


def test_a_code_deploy_consumer_is_never_force_redeployed_and_the_operator_is_told_what_to_run(
    targets: Targets, moto_server: MotoServer, fault_free: None, alarms: tuple[str, Callable[[], list[Any]]]
) -> None:
    harness = by_label("redis (ACL user via admin)")
    consumers, emulator, _, arn = _world(targets, harness)
    assert emulator.rotate(arn).ok
    service = _blue_green(consumers, arn, launched=datetime.now(UTC) - timedelta(days=1))  # holds AWSPREVIOUS
    held = targets.value(arn, "AWSPREVIOUS")
    updates: list[Any] = []
    moto_server.log.after_call["UpdateService"] = lambda *args: updates.append(args)
    try:
        error = expect_failure(targets.client, emulator, arn, Step.SET, StaleConsumersError)
        assert "aws deploy create-deployment" in str(error)
        assert "ECS is redeploying" not in str(error)
        assert harness.works(targets, held)

        topic, read = alarms
        refresh = refresh_handler({"ROTATION_CONSUMER_CLUSTERS": consumers.cluster, "ROTATION_ALARM_TOPIC_ARN": topic})
        rotated = {"detail": {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": arn}}}
        outcome = refresh(rotated)
        assert outcome["refreshed"] == [], "a CodeDeploy service is never counted as refreshed"
        (message,) = read()
        assert service in message["detail"]
        assert "aws deploy create-deployment" in message["detail"]
        assert updates == [], "UpdateService cannot redeploy a CodeDeploy service"
    finally:
        moto_server.log.after_call.pop("UpdateService", None)
    consumers.replace_tasks(service)  # the operator's CodeDeploy deployment
    assert emulator.retry(arn).ok
    assert harness.works(targets, targets.value(arn, "AWSCURRENT"))


def test_tasks_launched_after_a_rollback_hold_the_rolled_back_value_and_keep_it(
    targets: Targets, ecs_sandbox: tuple[EcsAgent, RotateSecretEmulator], capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the operator sequences: after ``rollback`` the guard redeploys the tasks that hold the value rolled
    away from; the tasks it launches read ``valueFrom`` (AWSCURRENT: the rolled-back value, as Secrets Manager
    answers a read without a stage), so revoke-previous then cuts off no task."""
    agent, emulator = ecs_sandbox
    label = "postgres (alternating users)"
    harness = by_label(label)
    arn, service = _consumed(targets, agent, emulator, label)
    wait = ["--wait-consumers", "--cluster", agent.cluster, "--timeout", "60", "--poll", "0.2", "--quiet"]
    assert rotation(["rotate", arn, *wait]) == 0, capsys.readouterr().err  # the tasks now hold the new value
    rolled_back = digest(targets.value(arn, "AWSPREVIOUS"))
    assert rotation(["rollback", arn, "--yes"]) == 0, capsys.readouterr().err
    assert digest(targets.value(arn, "AWSCURRENT")) == rolled_back
    assert digest(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]) == rolled_back
    assert rotation(["revoke-previous", arn, "--yes"]) == 2  # the tasks hold AWSPREVIOUS: refused, redeployed
    capsys.readouterr()
    agent.wait_until_settled()
    assert rotation(["revoke-previous", arn, "--yes"]) == 0, capsys.readouterr().err
    assert not harness.works(targets, targets.value(arn, "AWSPREVIOUS"))
    time.sleep(0.5)  # the tasks keep logging in
    assert service.refused == 0, "a task launched after the rollback held the revoked value"


def test_status_consumers_names_consumers_it_could_not_check(
    targets: Targets, ecs_sandbox: tuple[EcsAgent, RotateSecretEmulator], moto_server: MotoServer,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """ECS refusing the search is a problem to look at (exit 1 with --check), not a crash and not "healthy"."""
    agent, emulator = ecs_sandbox
    arn, _ = _consumed(targets, agent, emulator, "redis (ACL user via admin)")
    name = targets.client.describe_secret(SecretId=arn)["Name"]
    moto_server.log.inject(Fault("ListServices", times=50))  # throttled beyond the client's retries
    assert rotation(["status", name, "--consumers", "--cluster", agent.cluster, "--check", "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["secrets"]
    assert entry["problems"] == [
        f"ECS clusters not searched for consumers: arn:aws:ecs:us-east-1:123456789012:cluster/{agent.cluster} "
        "(ThrottlingException) "
        f"(`rotation consumers {entry['name']}`)"
    ]
