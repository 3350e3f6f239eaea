"""Clients that keep logging in while rotations run. Used by the tests and by ``scripts/load.py``.

``run_app_load``: application processes (``sandbox.app_load``) reading the secret through the client helper
(``rotation_client``: a TTL cache, one refresh on an authentication failure) and sending requests without pause.

``run_ecs_consumers``: ECS-style consumers (``sandbox.ecs_agent``), processes that got the secret once at
launch and never re-read it; with the refresh (the sandbox's functions, which guard revoking steps, and the
refresh function after each rotation), or without it (functions that know no consumer, and no refresh).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandbox.rotate_secret import RotateSecretEmulator

__all__ = ["AppLoad", "run_app_load", "run_ecs_consumers"]


@dataclass
class AppLoad:
    """What the application processes saw, summed."""

    requests: int = 0
    failed: int = 0
    refreshes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rotations: int = 0


def run_app_load(
    emulator: RotateSecretEmulator, secret_id: str, kind: str, *, processes: int = 2, workers: int = 4,
    rotations: int = 3, ttl: float = 300.0,
) -> AppLoad:  # fmt: skip
    """Run application processes (``sandbox.app_load``) on ``secret_id`` while ``rotations`` rotations run, each
    followed by ``revoke-previous`` (the runbook's last step); returns what the applications saw.

    A step refused as retryable (a managed user still ``modifying`` after the last change) is retried as Secrets
    Manager retries it (``RotateSecretEmulator.rotate_converging``).
    """
    import json
    import os
    import subprocess
    import sys

    from rotator.constants import Action, Stage

    command = [sys.executable, "-m", "sandbox.app_load", kind, secret_id, "--workers", str(workers), "--ttl", str(ttl)]
    apps = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        for _ in range(processes)
    ]
    load = AppLoad()
    try:
        for app in apps:
            if app.stdout is None or app.stdout.readline().strip() != "ready":
                raise RuntimeError(f"an application process on {secret_id} did not start")
        for _ in range(rotations):
            time.sleep(0.3)
            result = emulator.rotate_converging(secret_id, retries=20, pause=0.5)
            if not result.ok:
                raise RuntimeError(f"rotation of {secret_id} failed at {result.failed_step}: {result.error}")
            load.rotations += 1
            current = emulator.version_with(secret_id, Stage.CURRENT)
            event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": secret_id, "ClientRequestToken": current}
            failed, answer = emulator.invoke_function(kind, event)
            if failed:
                raise RuntimeError(f"revoke-previous of {secret_id} failed: {answer.get('errorType')}")
        time.sleep(0.3)
    finally:
        for app in apps:
            out, _ = app.communicate(input="", timeout=60)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if lines:
                report = json.loads(lines[-1])
                load.requests += report["requests"]
                load.failed += report["failed"]
                load.refreshes += report["refreshes"]
                load.errors.update(report["errors"])
    return load


def run_ecs_consumers(servers: Any, harness: Any, *, rotations: int, refresh: bool) -> Any:
    """Rotate a new secret of ``harness`` ``rotations`` times while a consumer service runs; the service.

    A step the guard refused (its consumers were still being redeployed) is retried once the rollouts
    settled, as Secrets Manager retries it.
    """
    import os
    import secrets

    from rotator.errors import StaleConsumersError
    from rotator.handler import handler_for
    from rotator.settings import Settings
    from sandbox.rotate_secret import lambda_arn

    targets = servers.targets
    arn = targets.client.create_secret(
        Name=f"amply/load/ecs-{secrets.token_hex(3)}", SecretString=harness.seed(targets)
    )["ARN"]
    emulator = servers.emulator
    if not refresh:
        unaware = Settings.from_env({**os.environ, "ROTATION_CONSUMER_CLUSTERS": ""})
        emulator = RotateSecretEmulator({lambda_arn(harness.kind): handler_for(harness.kind, unaware)})
    emulator.enable_rotation(arn, harness.kind)
    service = servers.ecs.run_service(arn, harness.label)
    for _ in range(rotations):
        time.sleep(0.5)  # the consumers keep opening connections
        result = emulator.rotate(arn)
        while isinstance(result.error, StaleConsumersError):
            servers.ecs.wait_until_settled()
            result = emulator.retry(arn)
        if not result.ok:
            raise RuntimeError(f"rotation of {arn} failed at {result.failed_step}: {result.error}")
    time.sleep(0.5)
    servers.ecs.wait_until_settled()
    return service
