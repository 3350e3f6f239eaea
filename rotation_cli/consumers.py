"""``rotation consumers``: the ECS services that inject a secret, and their tasks still on an older value; and
``--wait-consumers``, which follows their redeployment after a rotation."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rotation_cli.aws import Aws
from rotation_cli.output import CommandError, say
from rotation_cli.progress import Progress
from rotation_cli.times import short_time, when

__all__ = ["cmd_consumers", "consumers_report", "current_since", "report_for", "wait_consumers"]


def current_since(aws: Aws, description: Any) -> tuple[datetime | None, bool]:
    """When AWSCURRENT became current, and whether finishSecret recorded it. Unrecorded (a value put by hand, a
    function without consumer clusters), it is estimated from the last rotation and the version's creation:
    possibly too early, so a task counted current may be stale."""
    from rotator.consumers.promotion import recorded_since

    recorded = recorded_since(description)
    if recorded is not None:
        return recorded, True
    created = aws.sm.created_dates(description.arn).get(description.version_with("AWSCURRENT") or "")
    moments = [moment for moment in (description.last_rotated, created) if moment is not None]
    return (max(moments) if moments else None), False


def consumers_report(aws: Aws, secret_id: str, clusters: Sequence[str] | None) -> dict[str, Any]:
    """The secret's ECS consumers, each running task's start against when AWSCURRENT became current."""
    return report_for(aws, aws.sm.describe(secret_id), aws.clusters(clusters))


def report_for(aws: Aws, description: Any, searched: Sequence[str]) -> dict[str, Any]:
    """``consumers_report`` for a secret already described, in clusters already resolved (``Aws.clusters``)."""
    from rotator.consumers.discovery import find_consumers, running_tasks

    since, recorded = current_since(aws, description)
    search = find_consumers(aws.ecs, searched, description.arn, description.tags)
    consumers = []
    for consumer in search.consumers:
        tasks = running_tasks(aws.ecs, consumer)
        consumers.append(
            {
                "cluster": consumer.cluster, "service": consumer.service, "declared_by_tag": consumer.declared,
                "deployment_controller": consumer.controller, "task_definitions": list(consumer.task_definitions),
                "tasks": [
                    {"task": task.arn, "launched_at": when(task.launched_at),
                     "stale": since is not None and task.launched_before(since)}
                    for task in tasks
                ],
            }
        )  # fmt: skip
    return {"secret": description.name, "current_since": when(since), "current_since_recorded": recorded,
            "consumers": consumers,
            "unsearched_clusters": search.unsearched}  # fmt: skip


def wait_consumers(
    aws: Aws, secret_id: str, clusters: Sequence[str] | None, *, timeout: float, poll: float, quiet: bool
) -> int:
    """Follow the consumers' redeployment until each runs only tasks launched after AWSCURRENT became current
    and its rollout completed; how many consumer services there are. CommandError for a rolled-back deployment, a
    cluster not searched, or a timeout."""

    with Progress(quiet=quiet) as progress:
        return _wait_consumers(aws, secret_id, clusters, timeout=timeout, poll=poll, progress=progress)


def _wait_consumers(
    aws: Aws, secret_id: str, clusters: Sequence[str] | None, *, timeout: float, poll: float, progress: Progress
) -> int:
    from rotator.consumers.discovery import describe, find_consumers, stale_tasks

    started = time.monotonic()
    deadline = started + timeout
    searched = aws.clusters(clusters)
    while True:
        description = aws.sm.describe(secret_id)
        since, _ = current_since(aws, description)
        search = find_consumers(aws.ecs, searched, description.arn, description.tags)
        if search.unsearched:
            failed = ", ".join(f"{cluster} ({code})" for cluster, code in search.unsearched.items())
            raise CommandError(f"{description.name}: cannot follow consumers in {failed}")
        waiting: dict[str, str] = {}
        for found in search.consumers:
            consumer = describe(aws.ecs, found)
            if consumer.rollout == "FAILED":
                raise CommandError(
                    f"{description.name}: {consumer.failed_deployment()}; its tasks may keep the old value. Fix the "
                    "service, redeploy it, then `rotation consumers` to check"
                )
            stale = stale_tasks(aws.ecs, consumer, since) if since is not None else []
            if stale and not consumer.redeployable:
                waiting[consumer.key] = f"{len(stale)} tasks on an older value; {consumer.how_to_redeploy()}"
            elif stale or consumer.rollout == "IN_PROGRESS":
                never = since is not None and (consumer.deployed_at is None or consumer.deployed_at < since)
                waiting[consumer.key] = f"{len(stale)} tasks on an older value" + (
                    " and no deployment since the rotation (is the RotationSucceeded rule receiving events?)"
                    if never
                    else f", rollout {consumer.rollout or 'unknown'}"
                )
        if not waiting:
            progress.status("")
            return len(search.consumers)
        state = f"{description.name}: waiting for " + "; ".join(f"{k}: {v}" for k, v in sorted(waiting.items()))
        progress.status(f"{state} ({time.monotonic() - started:.0f} s)", key=state)
        if time.monotonic() > deadline:
            raise CommandError(
                f"{description.name}: consumers not on the current value after {timeout:.0f} s: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(waiting.items()))
            )
        time.sleep(poll)


def cmd_consumers(aws: Aws, args: argparse.Namespace) -> int:
    report = consumers_report(aws, args.secret_id, args.cluster)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rotation_cli.table import print_table

    for cluster, code in report["unsearched_clusters"].items():
        say(f"warning: cluster {cluster} not searched ({code})")
    if not report["consumers"]:
        print(f"{report['secret']}: no ECS service injects it in {aws.where}")
        return 0
    estimated = "" if report["current_since_recorded"] else " (estimated: finishSecret recorded no promotion time)"
    print(f"{report['secret']}: AWSCURRENT current since {short_time(report['current_since'])}{estimated}")
    rows = []
    for consumer in report["consumers"]:
        stale = [task for task in consumer["tasks"] if task["stale"]]
        rows.append(
            [
                f"{consumer['cluster'].rsplit('/', 1)[-1]}/{consumer['service']}",
                "tag" if consumer["declared_by_tag"] else "valueFrom", str(len(consumer["tasks"])),
                str(len(stale)), ", ".join(task["task"].rsplit("/", 1)[-1][:12] for task in stale) or "-",
            ]
        )  # fmt: skip
    print_table(["service", "found by", "running", "stale", "stale tasks"], rows)
    return 0
