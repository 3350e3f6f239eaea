"""A step imports what it needs, when it needs it: no driver at cold start, none in steps that never use it.
The cold start ends with its objects frozen out of the garbage collector's reach (``rotator.cold_start``).

Each probe is a fresh interpreter (a cold container) that loads the handler the way the template declares it
and runs the named steps against the session's sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from rotator import kinds
from rotator.constants import Step
from sandbox.functions import PROJECT_ROOT
from sandbox.harness import Targets, for_kind
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn

# The drivers, and the ECS consumer search, which only a secret with consumers to look for needs.
DRIVERS = ("psycopg", "redis", "cryptography", "stripe", "aws_xray_sdk", "rotator.consumers.discovery")
# What each kind's steps may import; createSecret/finishSecret of the database kinds never reach the database.
NEEDS = {
    "postgres": {Step.SET: {"psycopg"}, Step.TEST: {"psycopg"}},
    # redis-py imports cryptography when it is installed (its OCSP support); the redis function does not ship it.
    "redis": {Step.SET: {"redis", "cryptography"}, Step.TEST: {"redis", "cryptography"}},
    "signing_key": {Step.CREATE: {"cryptography"}, Step.SET: {"cryptography"}, Step.TEST: {"cryptography"}},
    "stripe": {Step.CREATE: {"stripe"}, Step.TEST: {"stripe"}},
}

_PROBE = """
import gc, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from sandbox.rotate_secret import LambdaContext
drivers = json.loads(sys.argv[3])
import app
seen = {"import": sorted(d for d in drivers if d in sys.modules), "frozen": gc.get_freeze_count()}
event = {"Step": sys.argv[4], "SecretId": sys.argv[5], "ClientRequestToken": sys.argv[6]}
app.lambda_handler(event, LambdaContext(sys.argv[7]))
seen["step"] = sorted(d for d in drivers if d in sys.modules)
print(json.dumps(seen))
"""


def _cold_step(kind: str, step: Step, arn: str, token: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PROJECT_ROOT / "functions" / kind), str(PROJECT_ROOT / "shared"),
         json.dumps(DRIVERS), step.value, arn, token, lambda_arn(kind)],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


@pytest.mark.parametrize("kind", kinds.names())
def test_each_step_in_a_cold_container_imports_only_what_it_needs(
    kind: str,
    targets: Targets,
    emulator: RotateSecretEmulator,
    make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
    sm_client: Any,
) -> None:
    harness = for_kind(kind)[0]
    arn = make_secret(unique_name(kind), harness.seed(targets), kind)
    harness.before_rotation(targets, arn)
    token = emulator.begin(arn)
    for step in Step:
        seen = _cold_step(kind, step, arn, token)
        assert seen["import"] == [], f"{kind}: the handler imports {seen['import']} at cold start"
        assert seen["frozen"] > 10_000, f"{kind}: the cold start's objects are left to the collector"
        allowed = NEEDS.get(kind, {}).get(step, set())
        assert set(seen["step"]) <= allowed, f"{kind} {step.value} imported {set(seen['step']) - allowed}"
    assert "AWSCURRENT" in sm_client.describe_secret(SecretId=arn)["VersionIdsToStages"][token]
