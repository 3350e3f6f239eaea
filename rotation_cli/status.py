"""``rotation status``: the rotation state of every secret under a prefix."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from rotation_cli.aws import Aws, kind_of
from rotation_cli.pending import PendingRotation, summary
from rotator.aws.secrets_manager import SecretDescription

__all__ = ["cmd_status", "short_time", "status_entry", "when"]


def when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def short_time(value: str | None) -> str:
    """``2026-11-23 16:50 UTC`` from an ISO-8601 UTC timestamp."""
    return f"{value[:10]} {value[11:16]} UTC" if value else "-"


def status_entry(description: SecretDescription, pending: PendingRotation | None = None) -> dict[str, Any]:
    """One secret's status, as ``--json`` prints it (``pending``: its unfinished rotation, assessed)."""
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
    }


def cmd_status(aws: Aws, args: argparse.Namespace) -> int:
    entries = [status_entry(d, aws.pending_rotation(d)) for d in aws.sm.list_secrets(args.prefix)]
    entries.sort(key=lambda entry: entry["name"])
    if args.json:
        print(json.dumps({"secrets": entries}, indent=2))
        return 0
    from rotation_cli.table import print_table

    rows = []
    for entry in entries:
        versions = ", ".join(f"{vid[:8]}={'+'.join(stages)}" for vid, stages in entry["versions"].items())
        pending = entry["pending"]
        warning = f"{summary(pending)} (AWSPENDING on {pending['version'][:8]})" if pending else ""
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
    return 0
