"""What tests share besides fixtures: the targets' shapes, snapshots, engines and failure expectations."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
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
    "start_serve",
    "stop_serve",
    "table_rows",
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
    return RotateSecretEmulator({lambda_arn(handler.kind.KIND): handler for handler in handlers})


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


def wrap_path(handler: Any, method: str, wrapper: Callable[[Callable[[Any], Any], Any], Any]) -> Any:
    """Make every path ``handler``'s kind chooses run ``wrapper(real_method, request)`` for ``method``."""
    choose = handler.kind.path_for

    def path_for(request: Any) -> Any:
        path = copy.copy(choose(request))
        real = getattr(path, method)
        setattr(path, method, lambda request: wrapper(real, request))
        return path

    handler.kind.path_for = path_for
    return handler


def crash_once_after(handler: Any, method: str) -> Any:
    """Make ``handler``'s path die right after ``method`` (apply, verify…) succeeds, the first time only."""
    crashed: list[bool] = []

    def crash(real: Callable[[Any], Any], request: Any) -> Any:
        result = real(request)
        if not crashed:
            crashed.append(True)
            raise RuntimeError(f"process died right after {method}")
        return result

    return wrap_path(handler, method, crash)


def table_rows(text: str, prefix: str) -> dict[str, list[str]]:
    """The cells of each printed-table row whose first cell starts with ``prefix``, wrapped lines rejoined.

    Column bounds come from the table's rule of dashes; a cell's wrapped parts are joined with one space.
    """
    lines = text.splitlines()
    rule = next(line for line in lines if line.startswith("-") and set(line) <= {"-", " "})
    bounds = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    rows: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines[lines.index(rule) + 1 :]:
        if line.startswith(prefix):
            current = rows.setdefault(line.split()[0], ["" for _ in bounds])
        elif current is None or not line.startswith(" "):
            current = None
            continue
        for n, (start, end) in enumerate(bounds):
            part = line[start:end].strip()
            current[n] = f"{current[n]} {part}".strip() if part else current[n]
    return rows


def start_serve(log: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m sandbox <args>`` (a ``serve``) in its own session, output to ``log``; waits for its READY line
    and returns the process and the endpoint it printed."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", *args], stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while "READY " not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sandbox serve did not start:\n" + log.read_text()[-2000:])
        time.sleep(0.2)
    return process, next(line.split()[1] for line in log.read_text().splitlines() if line.startswith("READY "))


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
