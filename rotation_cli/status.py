"""``rotation status``: the rotation state of every secret under a prefix."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rotation_cli.aws import Aws, kind_of
from rotation_cli.pending import PendingRotation, summary
from rotation_cli.times import short_time, when
from rotator.aws.secrets_manager import SecretDescription

__all__ = ["cmd_status", "status_entry"]


def status_entry(
    description: SecretDescription, pending: PendingRotation | None = None,
    last_failure: dict[str, Any] | None = None, now: datetime | None = None, also: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """One secret's status, as ``--json`` prints it (``pending``: its unfinished rotation, assessed;
    ``last_failure``: the function's last failed step since the last success; ``also``: more problems found,
    those of its ECS consumers)."""
    from rotation_cli.health import ATTENTION, OK, problems
    from rotator.aws.schedule import due

    found = [*problems(description, pending, last_failure, now or datetime.now(UTC)), *also]
    rules = description.rotation_rules
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days" if rules.get("AutomaticallyAfterDays") else None
    )
    return {
        "name": description.name,
        "arn": description.arn,
        "kind": kind_of(description),
        "rotation_enabled": description.rotation_enabled,
        "schedule": schedule,
        "last_rotated": when(description.last_rotated),
        "next_rotation": when(description.next_rotation),
        "versions": {version: sorted(stages) for version, stages in description.versions.items() if stages},
        "pending_version": description.stuck_pending,
        "pending": pending.as_json() if pending else None,
        "due": when(due(description)),
        "last_failure": {**last_failure, "at": when(last_failure["at"])} if last_failure else None,
        "health": ATTENTION if found else OK,
        "problems": found,
    }


def cmd_status(aws: Aws, args: argparse.Namespace) -> int:
    searched, unlisted = _clusters(aws, args.cluster) if args.consumers else ([], None)  # once, for every secret
    entries = []
    for description in aws.sm.list_secrets(args.prefix):
        pending = aws.pending_rotation(description)
        # A stuck rotation already names its failed step; otherwise the function's last failure since the last
        # success (a failed attempt Secrets Manager stopped retrying and an operator unstuck leaves no AWSPENDING).
        failure = None if pending is not None else aws.last_failure(description, description.last_rotated)
        if not args.consumers:
            entries.append(status_entry(description, pending, failure))
            continue
        stale, problem = (None, unlisted) if unlisted else _stale_consumer_tasks(aws, description, searched)
        also = [f"{problem} (`rotation consumers {description.name}`)"] if problem is not None else []
        entries.append({**status_entry(description, pending, failure, also=also), "stale_consumer_tasks": stale})
    entries.sort(key=lambda entry: entry["name"])
    attention = [entry for entry in entries if entry["problems"]]
    verdict = 1 if args.check and attention else 0
    if args.json:
        print(json.dumps({"secrets": entries}, indent=2))
        return verdict
    from rotation_cli.table import print_table

    rows = []
    for entry in entries:
        versions = ", ".join(f"{vid[:8]}={'+'.join(stages)}" for vid, stages in entry["versions"].items())
        pending = entry["pending"]
        warning = f"{summary(pending)} (AWSPENDING on {pending['version'][:8]})" if pending else ""
        if not pending and entry["problems"]:
            warning = "; ".join(entry["problems"])
        rotation = (entry["schedule"] or "on demand") if entry["rotation_enabled"] else "off"
        rows.append(
            [
                entry["name"], entry["kind"] or "?", rotation, short_time(entry["last_rotated"]),
                short_time(entry["next_rotation"]), versions, warning,
            ]
        )  # fmt: skip
    headers = ["secret", "kind", "rotation", "last rotated", "next rotation", "versions", "warning"]
    if rows:
        print_table(headers, rows)
    else:
        print(f"no secrets{f' under {args.prefix}' if args.prefix else ''} in {aws.where}")
    if args.check:
        print(f"{len(attention)} of {len(entries)} secrets need attention" if attention else "all healthy")
    return verdict


def _clusters(aws: Aws, named: Sequence[str] | None) -> tuple[list[str], str | None]:
    """The clusters ``--consumers`` searches (``Aws.clusters``), or why ECS would not list them."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return aws.clusters(named), None
    except (ClientError, BotoCoreError) as exc:
        return [], _unchecked(exc)


def _stale_consumer_tasks(
    aws: Aws, description: SecretDescription, searched: Sequence[str]
) -> tuple[int | None, str | None]:
    """How many running ECS tasks that inject the secret may hold an older value (``rotation consumers``), and what
    needs attention: such tasks, or consumers that could not be checked (None: nothing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from rotation_cli.consumers import report_for

    try:
        report = report_for(aws, description, searched)
    except (ClientError, BotoCoreError) as exc:
        return None, _unchecked(exc)
    stale = sum(task["stale"] for consumer in report["consumers"] for task in consumer["tasks"])
    if report["unsearched_clusters"]:
        unsearched = ", ".join(f"{cluster} ({code})" for cluster, code in report["unsearched_clusters"].items())
        return stale, f"ECS clusters not searched for consumers: {unsearched}"
    if stale:
        return stale, f"{stale} ECS consumer task(s) launched before AWSCURRENT became current"
    return stale, None


def _unchecked(exc: Exception) -> str:
    """An ECS call that failed, as a status problem: its error code (or botocore's error type)."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
    return f"ECS consumers could not be checked ({code})"
