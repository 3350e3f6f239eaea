"""Clients and the facts the commands need: kind of a secret, its rotation function, its log lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rotation_cli.output import CommandError
from rotation_cli.pending import PendingRotation, last_step
from rotator import kinds
from rotator.aws.secrets_manager import SecretDescription, SecretsManager
from rotator.core.boundary import STEP_FAILED

__all__ = ["LAMBDA_MAX_TIMEOUT", "Aws", "LogsUnavailable", "kind_of", "log_group_of"]


# Lambda's longest timeout (Lambda Developer Guide: "The maximum allowed value is 900 seconds").
LAMBDA_MAX_TIMEOUT = 900.0


def _json_line(event: dict[str, Any]) -> dict[str, Any] | None:
    """One log event's structured line with the time CloudWatch Logs gives it, or None when it is not JSON."""
    try:
        line = json.loads(event["message"])
    except (ValueError, KeyError):
        return None
    if not isinstance(line, dict):
        return None
    return {**line, "logged_at": int(event.get("timestamp", 0))}


class LogsUnavailable(Exception):
    """The rotation function's log group cannot be read (permissions, missing group): says which and why."""


def kind_of(description: SecretDescription) -> str | None:
    """The kind, from the ``rotation:kind`` tag or the rotation function's name (``…-rotate-signing-key``)."""
    known = kinds.names()
    tagged = description.tags.get("rotation:kind")
    if tagged in known:
        return tagged
    function = (description.rotation_lambda_arn or "").rsplit(":", 1)[-1]
    name = function.rsplit("rotate-", 1)[-1].replace("-", "_")
    return name if name in known else None


def log_group_of(description: SecretDescription) -> str | None:
    """The rotation function's CloudWatch Logs group (``/aws/lambda/<function>``)."""
    if not description.rotation_lambda_arn:
        return None
    return f"/aws/lambda/{description.rotation_lambda_arn.rsplit(':', 1)[-1]}"


@dataclass
class Aws:
    """boto3 clients for one profile/region/endpoint, and the suite's Secrets Manager wrapper."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        import boto3

        self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
        options: dict[str, Any] = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        client = self._session.client("secretsmanager", **options)
        self.sm = SecretsManager(client)
        self._logs = self._session.client("logs", **options)
        self.ecs = self._session.client("ecs", **options)
        self.lambda_ = self._session.client("lambda", **options)
        self.where = f"region {client.meta.region_name} at {client.meta.endpoint_url}"

    def rotation_log(self, description: SecretDescription, token: str, since_ms: int) -> list[dict[str, Any]]:
        """The rotation function's structured lines about ``token``, each with ``logged_at`` (ms); LogsUnavailable
        when they cannot be read."""
        return [line for line in self._log_lines(description, since_ms, f'"{token}"') if line.get("token") == token]

    def last_failure(self, description: SecretDescription, since: datetime | None) -> dict[str, Any] | None:
        """The function's latest failed step of this secret since ``since`` (its last success; the last 30 days
        when it never rotated): ``step``, ``at``, ``error_type``, ``error``; None when none, or unreadable."""
        start = since or datetime.now(UTC) - timedelta(days=30)
        try:
            # One quoted term (the name), the message checked here: what every Logs filter syntax matches alike.
            lines = self._log_lines(description, int(start.timestamp() * 1000), f'"{description.name}"')
        except LogsUnavailable:
            return None
        failed = [
            line for line in lines if line.get("message") == STEP_FAILED and line.get("secret") == description.name
        ]
        latest = max(failed, key=lambda line: int(line.get("logged_at", 0)), default=None)
        if latest is None:
            return None
        return {
            "step": latest.get("step"), "at": datetime.fromtimestamp(int(latest["logged_at"]) / 1000, UTC),
            "error_type": latest.get("error_type"), "error": latest.get("error"),
        }  # fmt: skip

    def _log_lines(self, description: SecretDescription, since_ms: int, pattern: str) -> list[dict[str, Any]]:
        """The function's structured lines matching ``pattern`` since ``since_ms``, every page read (CloudWatch Logs
        may answer an empty page that still carries a ``nextToken``)."""
        from botocore.exceptions import BotoCoreError, ClientError

        group = log_group_of(description)
        if group is None:
            return []
        lines: list[dict[str, Any]] = []
        options: dict[str, Any] = {"logGroupName": group, "startTime": since_ms, "filterPattern": pattern}
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(**options):
                for event in page.get("events", []):
                    line = _json_line(event)
                    if line is not None:
                        lines.append(line)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # no line written yet
            code = exc.response.get("Error", {}).get("Code", "error")
            raise LogsUnavailable(f"cannot read {group} ({code}: needs logs:FilterLogEvents)") from None
        except BotoCoreError as exc:
            raise LogsUnavailable(f"cannot read {group} ({type(exc).__name__})") from None
        return lines

    def invoke_action(self, description: SecretDescription, action: str, token: str) -> tuple[Any, dict[str, Any]]:
        """Invoke the secret's rotation function with an operator's action (``Action``) on version ``token``: what it
        answered, and, when it raised, Lambda's error body (``errorType``, ``errorMessage``; empty otherwise)."""
        event = {"Step": action, "SecretId": description.arn, "ClientRequestToken": token}
        response = self.lambda_.invoke(FunctionName=description.rotation_lambda_arn, Payload=json.dumps(event).encode())
        answer = json.loads(response["Payload"].read() or b"null")
        if not response.get("FunctionError"):
            return answer, {}
        return None, {"errorType": "error", **(answer if isinstance(answer, dict) else {})}

    def function_timeout(self, description: SecretDescription) -> float:
        """The rotation function's timeout in seconds; Lambda's maximum (900 s) when it cannot be read, so an
        unfinished rotation is never taken for stuck too early."""
        from botocore.exceptions import BotoCoreError, ClientError

        if description.rotation_lambda_arn is None:
            return LAMBDA_MAX_TIMEOUT
        try:
            answer = self.lambda_.get_function_configuration(FunctionName=description.rotation_lambda_arn)
        except (ClientError, BotoCoreError):
            return LAMBDA_MAX_TIMEOUT
        return float(answer.get("Timeout") or LAMBDA_MAX_TIMEOUT)

    def pending_rotation(self, description: SecretDescription) -> PendingRotation | None:
        """The secret's unfinished rotation, assessed (None when there is none)."""
        version = description.stuck_pending
        if version is None:
            return None
        started = self.sm.created_dates(description.arn).get(version)
        since_ms = int(started.timestamp() * 1000) - 5000 if started else 0
        try:
            step = last_step(self.rotation_log(description, version, since_ms))
        except LogsUnavailable:
            step = None
        return PendingRotation(version, started, self.function_timeout(description), step)

    def clusters(self, named: Sequence[str] | None = None) -> list[str]:
        """Every ECS cluster of the account in this region, or the ``named`` ones, checked before anything runs: a
        name (or ARN) that is not a cluster here is refused with the ones that are."""
        found = [arn for page in self.ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
        if not named:
            return found
        names = {arn.rsplit("/", 1)[-1]: arn for arn in found}
        unknown = [name for name in named if name not in names and name not in found]
        if unknown:
            raise CommandError(
                f"no ECS cluster {', '.join(unknown)} in {self.where}; "
                f"clusters here: {', '.join(sorted(names)) or 'none'}",
                status=2,
            )
        return [names.get(name, name) for name in named]
