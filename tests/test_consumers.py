"""ECS consumer discovery and ``rotation consumers``, against ECS on the moto server (real HTTP calls)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from rotation_cli.__main__ import main as rotation
from rotator.consumers.discovery import find_consumers, injects, refresh, running_tasks
from rotator.consumers.settings import CONSUMERS_TAG, NOT_CONSUMERS_TAG
from sandbox.ecs_world import add_container_host, inject, roll_out, start_tasks
from sandbox.moto_server import Fault, MotoServer

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-AbC123"
NAME = "amply/prod/database-url"
PARTIAL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url"


@pytest.mark.parametrize(
    "value_from",
    [ARN, PARTIAL, f"{ARN}:password::", f"{ARN}::AWSCURRENT:", f"{PARTIAL}:url:AWSPREVIOUS:",
     f"{ARN}:::0f3c2b1a-0000-4000-8000-000000000000"],
)  # fmt: skip
def test_every_value_from_form_names_the_secret(value_from: str) -> None:
    assert injects(value_from, ARN)


@pytest.mark.parametrize(
    "value_from",
    [
        NAME,  # a bare name is an SSM parameter (ECS: "you can use either the full ARN or name of the parameter")
        "amply/prod/database-url-old",  # another secret whose name starts the same
        f"{PARTIAL}-old",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-old-XyZ789",
        "arn:aws:ssm:us-east-1:123456789012:parameter/amply/prod/database-url",
        f"{ARN}:password",  # not the four-part suffix ECS accepts
        "amply/prod/database",
    ],
)
def test_look_alikes_do_not(value_from: str) -> None:
    assert not injects(value_from, ARN)


@pytest.fixture
def world(moto_server: MotoServer, fault_free: None) -> dict[str, Any]:
    """A cluster whose services inject the secret in each form, and services that do not."""
    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    sm = boto3.client("secretsmanager")
    name = f"amply/test/database-url-{secrets.token_hex(3)}"
    arn = sm.create_secret(Name=name, SecretString="postgresql://app:pw@db.internal:5432/app")["ARN"]
    cluster = f"app-{secrets.token_hex(3)}"
    add_container_host(ecs, ec2, cluster)
    forms = {"by-arn": arn, "by-partial": arn[:-7], "by-json-key": f"{arn}:password::"}
    others = {"unrelated": f"{name}-old", "by-name": name}  # a bare name is an SSM parameter
    for service, value_from in {**forms, **others}.items():
        task_definition = inject(ecs, f"{cluster}-{service}", value_from, "arn:aws:ssm:us-east-1:1:parameter/x")
        ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=task_definition, desiredCount=1)
    # A log driver's secret option and a private registry's credentials name the secret too.
    for service, container in {
        "by-log-option": {"logConfiguration": {"logDriver": "splunk",
                                               "secretOptions": [{"name": "splunk-token", "valueFrom": arn}]}},
        "by-registry": {"repositoryCredentials": {"credentialsParameter": arn}},
    }.items():  # fmt: skip
        document = {"name": service, "image": "registry.example/app:1", "memory": 256, **container}
        definition = ecs.register_task_definition(family=f"{cluster}-{service}", containerDefinitions=[document])
        arn_of = definition["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=arn_of, desiredCount=1)
        forms[service] = arn
    return {"ecs": ecs, "sm": sm, "name": name, "arn": arn, "cluster": cluster, "forms": forms}


def test_services_injecting_the_secret_in_any_form_are_found(world: dict[str, Any]) -> None:
    search = find_consumers(world["ecs"], [world["cluster"]], world["arn"])
    assert sorted(c.service for c in search.consumers) == sorted(world["forms"])
    assert search.unsearched == {}


def test_a_service_still_rolling_out_is_a_consumer_through_its_active_deployment(world: dict[str, Any]) -> None:
    ecs, cluster = world["ecs"], world["cluster"]
    roll_out(cluster, "by-arn", inject(ecs, f"{cluster}-by-arn", "arn:aws:ssm:us-east-1:1:parameter/other"))
    consumer = next(c for c in find_consumers(ecs, [cluster], world["arn"]).consumers if c.service == "by-arn")
    assert len(consumer.task_definitions) == 2  # the new PRIMARY and the old, still ACTIVE
    roll_out(cluster, "unrelated", inject(ecs, f"{cluster}-unrelated", "arn:aws:ssm:us-east-1:1:parameter/y"))
    found = {c.service for c in find_consumers(ecs, [cluster], world["arn"]).consumers}
    assert "unrelated" not in found


def test_tags_declare_and_exclude_consumers(world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    tags = {CONSUMERS_TAG: "batch/nightly-report, " + f"{cluster}/by-name", NOT_CONSUMERS_TAG: f"{cluster}/by-arn"}
    search = find_consumers(world["ecs"], [cluster], world["arn"], tags)
    found = {c.key: c.declared for c in search.consumers}
    assert found == {
        **{f"{cluster}/{service}": False for service in world["forms"] if service != "by-arn"},
        f"{cluster}/by-name": True, "batch/nightly-report": True,
    }  # fmt: skip
    declared = next(c for c in search.consumers if c.service == "by-name")
    assert declared.task_definitions, "a declared consumer is described"
    assert declared.deployed_at is not None


def test_many_services_are_paged_and_described_ten_at_a_time(world: dict[str, Any]) -> None:
    ecs, cluster = world["ecs"], world["cluster"]
    other = inject(ecs, f"{cluster}-filler", "arn:aws:ssm:us-east-1:1:parameter/z")
    for n in range(23):
        ecs.create_service(cluster=cluster, serviceName=f"filler-{n:02}", taskDefinition=other, desiredCount=0)
    search = find_consumers(ecs, [cluster], world["arn"])
    assert sorted(c.service for c in search.consumers) == sorted(world["forms"])


def test_a_missing_cluster_is_reported_and_the_others_searched(world: dict[str, Any]) -> None:
    search = find_consumers(world["ecs"], ["no-such-cluster", world["cluster"]], world["arn"])
    assert search.unsearched == {"no-such-cluster": "ClusterNotFoundException"}
    assert len(search.consumers) == len(world["forms"])


def test_throttling_is_retried(world: dict[str, Any], moto_server: MotoServer) -> None:
    faults = [Fault("ListServices", times=2), Fault("DescribeTaskDefinition", times=1)]
    for fault in faults:
        moto_server.log.inject(fault)
    search = find_consumers(world["ecs"], [world["cluster"]], world["arn"])
    assert len(search.consumers) == len(world["forms"])
    assert [fault.times for fault in faults] == [0, 0]  # each throttle was answered, then retried


def test_rotation_consumers_lists_tasks_still_on_an_older_value(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ecs, cluster = world["ecs"], world["cluster"]
    current_since = world["sm"].describe_secret(SecretId=world["arn"])["CreatedDate"]
    definition = ecs.describe_services(cluster=cluster, services=["by-arn"])["services"][0]["taskDefinition"]
    stale = start_tasks(ecs, cluster, "by-arn", definition, 2, current_since - timedelta(hours=1))
    fresh = start_tasks(ecs, cluster, "by-arn", definition, 1, datetime.now(UTC) + timedelta(seconds=5))
    assert rotation(["consumers", world["name"], "--cluster", cluster, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_service = {c["service"]: c for c in report["consumers"]}
    assert set(by_service) == set(world["forms"])
    assert report["current_since_recorded"] is False  # never rotated: estimated from the version's creation
    tasks = {t["task"]: t["stale"] for t in by_service["by-arn"]["tasks"]}
    assert tasks == {**dict.fromkeys(stale, True), **dict.fromkeys(fresh, False)}
    consumer = next(c for c in find_consumers(ecs, [cluster], world["arn"]).consumers
                    if c.service == "by-arn")  # fmt: skip
    assert len(running_tasks(ecs, consumer)) == 3
    assert rotation(["consumers", world["name"], "--cluster", cluster]) == 0
    text = capsys.readouterr().out
    assert "by-arn" in text
    assert "AWSCURRENT current since" in text
    assert "estimated" in text


def test_rotation_consumers_of_an_unknown_secret_exits_2(moto_server: MotoServer) -> None:
    assert rotation(["consumers", "amply/test/no-such-secret"]) == 2


def test_a_mistyped_cluster_is_refused_before_the_rotation(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """`rotate --wait-consumers --cluster` with a cluster that does not exist: exit 2 naming the clusters there,
    and no rotation started."""
    before = world["sm"].describe_secret(SecretId=world["arn"])["VersionIdsToStages"]
    typo = world["cluster"] + "-typo"
    assert rotation(["rotate", world["name"], "--wait-consumers", "--cluster", typo]) == 2
    err = capsys.readouterr().err
    assert f"no ECS cluster {typo}" in err
    assert world["cluster"] in err
    assert world["sm"].describe_secret(SecretId=world["arn"])["VersionIdsToStages"] == before


@pytest.mark.parametrize(
    ("controller", "instruction"),
    [("CODE_DEPLOY", "aws deploy create-deployment"), ("EXTERNAL", "aws ecs create-task-set")],
)
def test_a_service_deployed_by_task_sets_is_found_and_never_force_redeployed(
    world: dict[str, Any], controller: str, instruction: str
) -> None:  # fmt: skip
    """CODE_DEPLOY and EXTERNAL services keep their task definitions in ``taskSets`` (``deployments`` is empty),
    and UpdateService cannot redeploy them."""
    ecs, cluster = world["ecs"], world["cluster"]
    unrelated = inject(ecs, f"{cluster}-sets-old", "arn:aws:ssm:us-east-1:1:parameter/x")
    consuming = inject(ecs, f"{cluster}-sets-new", world["arn"])
    ecs.create_service(cluster=cluster, serviceName="blue-green", desiredCount=1,
                       deploymentController={"type": controller})  # fmt: skip
    for definition in (unrelated, consuming):  # the newer set injects the secret
        ecs.create_task_set(cluster=cluster, service="blue-green", taskDefinition=definition, externalId="x")
    service = ecs.describe_services(cluster=cluster, services=["blue-green"])["services"][0]
    assert service["deployments"] == []
    assert len(service["taskSets"]) == 2
    consumer = next(c for c in find_consumers(ecs, [cluster], world["arn"]).consumers if c.service == "blue-green")
    assert consumer.controller == controller
    assert not consumer.redeployable
    assert set(consumer.task_definitions) == {unrelated, consuming}
    assert consumer.deployed_at == max(s["createdAt"] for s in service["taskSets"])
    assert instruction in consumer.how_to_redeploy()
    assert consuming in consumer.how_to_redeploy() or unrelated in consumer.how_to_redeploy()
    with pytest.raises(ValueError, match="not redeployed by UpdateService"):
        refresh(ecs, consumer)
