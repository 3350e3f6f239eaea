"""Clients and the facts the commands need: kind of a secret, its rotation function, its log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rotator import kinds
from rotator.aws.secrets_manager import SecretDescription, SecretsManager

__all__ = ["Aws", "LogsUnavailable", "kind_of", "log_group_of"]


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
        """The rotation function's structured lines about ``token``; LogsUnavailable when they cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        group = log_group_of(description)
        if group is None:
            return []
        try:
            response = self._logs.filter_log_events(
                logGroupName=group, startTime=since_ms, filterPattern=f'"{token}"', limit=100
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # no line written yet
            code = exc.response.get("Error", {}).get("Code", "error")
            raise LogsUnavailable(f"cannot read {group} ({code}: needs logs:FilterLogEvents)") from None
        except BotoCoreError as exc:
            raise LogsUnavailable(f"cannot read {group} ({type(exc).__name__})") from None
        lines = []
        for event in response.get("events", []):
            try:
                line = json.loads(event["message"])
            except (ValueError, KeyError):
                continue
            if isinstance(line, dict) and line.get("token") == token:
                lines.append(line)
        return lines

    def clusters(self) -> list[str]:
        """Every ECS cluster of the account in this region."""
        return [arn for page in self.ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
