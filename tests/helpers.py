"""What tests share besides fixtures: the targets' shapes, snapshots, engines and failure expectations."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rotator.constants import Step
from rotator.handler import handler_for
from rotator.settings import Settings
from sandbox.postgres_server import PostgresServer
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn

__all__ = [
    "KEYRING_BUCKET",
    "PostgresTarget",
    "RedisTarget",
    "crash_once_after",
    "digest",
    "emulator_for",
    "engine_for",
    "expect_failure",
    "snapshot",
    "stage_value",
    "version_with",
]


@dataclass(frozen=True)
class RedisTarget:
    """The test Redis: where it listens, the ``admin`` user's password and the session's admin secret."""

    host: str
    port: int
    admin_password: str = field(repr=False)
    admin_arn: str = ""


@dataclass(frozen=True)
class PostgresTarget:
    """The test database: a superuser URL and, when the suite started it, the server (for its log).

    ``superuser_url`` goes through the server's TLS front without TLS (what seeds and admin connections
    use); ``master_url`` is the same superuser with verify-full and channel binding, what the session's
    master secret (``master_arn``, allowed by ROTATION_POSTGRES_MASTER_SECRET_ARNS) holds.
    """

    superuser_url: str
    server: PostgresServer | None
    log_path: Path | None
    master_url: str = ""
    master_arn: str = ""

    def log_text(self) -> str:
        if self.log_path is None:
            pytest.fail("set ROTATION_TEST_POSTGRES_LOG to the existing server's log file (log_statement = 'all')")
        return self.log_path.read_text(errors="replace")


KEYRING_BUCKET = "amply-test-keyring"


def digest(text: str | None) -> str:
    """A printable stand-in for a secret value in assertions."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def snapshot(sm_client: Any, secret_id: str) -> dict[str, Any]:
    """Stages and value digests of every version: equal snapshots mean nothing changed."""
    description = sm_client.describe_secret(SecretId=secret_id)
    state: dict[str, Any] = {"rotation": description.get("RotationEnabled")}
    for version_id, stages in sorted(description.get("VersionIdsToStages", {}).items()):
        try:
            value = sm_client.get_secret_value(SecretId=secret_id, VersionId=version_id)["SecretString"]
        except sm_client.exceptions.ResourceNotFoundException:
            value = None
        state[version_id] = (sorted(stages), digest(value))
    return state


def stage_value(sm_client: Any, secret_id: str, stage: str) -> str:
    return str(sm_client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"])


def version_with(sm_client: Any, secret_id: str, stage: str) -> str | None:
    for version_id, stages in sm_client.describe_secret(SecretId=secret_id)["VersionIdsToStages"].items():
        if stage in stages:
            return str(version_id)
    return None


def engine_for(kind: str, **env: str) -> Any:
    """A handler for ``kind``, configured from the session's environment plus ``env``."""
    return handler_for(kind, settings=Settings.from_env({**os.environ, **env}))


def emulator_for(*handlers: Any) -> RotateSecretEmulator:
    """A RotateSecret emulator that invokes these handlers for the secrets of their kinds."""
    return RotateSecretEmulator({lambda_arn(handler.strategy.KIND): handler for handler in handlers})


def expect_failure(sm_client: Any, emulator: RotateSecretEmulator, arn: str, step: Step, error: type[Exception]) -> Any:
    """Stage a rotation, run the steps before ``step``, then assert ``step`` raises ``error`` and changes nothing."""
    token = emulator.begin(arn)
    for earlier in Step:
        if earlier is step:
            break
        emulator.invoke(arn, token, earlier)
    before = snapshot(sm_client, arn)
    with pytest.raises(error) as excinfo:
        emulator.invoke(arn, token, step)
    assert snapshot(sm_client, arn) == before
    return excinfo.value


def crash_once_after(handler: Any, method: str) -> Any:
    """Make ``handler``'s strategy die right after ``method`` (apply, verify…) succeeds, the first time only."""
    real = getattr(handler.strategy, method)
    crashed: list[bool] = []

    def crash(request: Any) -> Any:
        result = real(request)
        if not crashed:
            crashed.append(True)
            raise RuntimeError(f"process died right after {method}")
        return result

    setattr(handler.strategy, method, crash)
    return handler
