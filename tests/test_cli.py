"""The ``rotation`` command, end to end: a sandbox server process, the CLI in another, real API calls."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.leak_canary import register_output, register_secret


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``python -m sandbox serve`` in its own process; yields the environment the CLI needs."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        endpoint = ""
        while not endpoint:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("sandbox serve did not start:\n" + log.read_text()[-2000:])
            time.sleep(0.2)
            for line in log.read_text().splitlines():
                if line.startswith("READY "):
                    endpoint = line.split()[1]
        stripe_base = next(
            line.split("=", 1)[1] for line in log.read_text().splitlines() if "ROTATION_STRIPE_API_BASE=" in line
        )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ROTATION_STRIPE_API_BASE": stripe_base,
        }
        env.pop("AWS_PROFILE", None)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        register_output("sandbox serve output", log.read_text())


def rotation(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("rotation")), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def client(env: dict[str, str]) -> Any:
    return boto3.client(
        "secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip


def harvest(env: dict[str, str]) -> None:
    """The sandbox runs in another process: register its secret values for the leak scan."""
    from tests.leak_canary import secret_parts

    sm = client(env)
    for secret in sm.list_secrets()["SecretList"]:
        for version in sm.list_secret_version_ids(SecretId=secret["ARN"])["Versions"]:
            try:
                text = sm.get_secret_value(SecretId=secret["ARN"], VersionId=version["VersionId"])["SecretString"]
            except sm.exceptions.ResourceNotFoundException:
                continue
            register_secret(*secret_parts(text))


def status(env: dict[str, str], prefix: str = "amply/sandbox/") -> dict[str, Any]:
    result = rotation(env, "status", prefix, "--json")
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)["secrets"]}


def test_status_json_schema(sandbox: dict[str, str]) -> None:
    entries = status(sandbox)
    expected_kinds = {
        "amply/sandbox/session-secret": "session_secret", "amply/sandbox/database-url": "postgres",
        "amply/sandbox/redis-url": "redis", "amply/sandbox/checkpoint-signing-key": "signing_key",
        "amply/sandbox/stripe-secret-key": "stripe",
    }  # fmt: skip
    for name, kind in expected_kinds.items():
        entry = entries[name]
        assert entry["kind"] == kind
        assert entry["rotation_enabled"] is True
        assert set(entry) == {
            "name", "arn", "kind", "rotation_enabled", "schedule", "last_rotated", "next_rotation", "versions",
            "stuck_pending",
        }  # fmt: skip
        assert list(entry["versions"].values()).count(["AWSCURRENT"]) == 1
    text = rotation(sandbox, "status", "amply/sandbox/")
    assert text.returncode == 0
    assert "amply/sandbox/session-secret" in text.stdout
    assert "session_secret" in text.stdout
    harvest(sandbox)


def test_rotate_follows_every_step_to_completion(sandbox: dict[str, str]) -> None:
    result = rotation(sandbox, "rotate", "amply/sandbox/session-secret")
    assert result.returncode == 0, result.stderr
    assert "createSecret (pending value stored" in result.stderr
    assert "finishSecret (promoted" in result.stderr
    token = result.stdout.strip().rsplit(" ", 1)[-1]
    assert status(sandbox)["amply/sandbox/session-secret"]["versions"][token] == ["AWSCURRENT", "AWSPENDING"]
    harvest(sandbox)


def test_failed_rotation_names_the_step_and_unstick_recovers(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    failed = rotation(sandbox, "rotate", name)
    assert failed.returncode == 1
    assert "createSecret failed: StagingRequiredError" in failed.stderr
    assert f"rotation stage {name}" in failed.stderr
    stuck = status(sandbox)[name]["stuck_pending"]
    assert stuck
    assert "STUCK AWSPENDING" in rotation(sandbox, "status", name).stdout
    refused = rotation(sandbox, "rotate", name)
    assert refused.returncode == 1
    assert f"rotation unstick {name}" in refused.stderr
    aborted = rotation(sandbox, "unstick", name, stdin="no\n")
    assert aborted.returncode == 1
    assert status(sandbox)[name]["stuck_pending"] == stuck
    done = rotation(sandbox, "unstick", name, "--yes")
    assert done.returncode == 0, done.stderr
    assert status(sandbox)[name]["stuck_pending"] is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("sk_test_sandbx with space\n", "contains whitespace"),
        ("pk_test_" + "a" * 30, "not a Stripe key"),
        ("sk_live_sandbx" + "b" * 24, "live-mode key is refused"),
        ("sk_test_invalid", "not a Stripe key"),
    ],
)
def test_stage_refuses_bad_values_and_stages_nothing(sandbox: dict[str, str], value: str, problem: str) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--yes")
    result = rotation(sandbox, "stage", name, stdin=value)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "nothing staged" in result.stderr
    labels = {label for versions in status(sandbox)[name]["versions"].values() for label in versions}
    assert "STAGED" not in labels


def test_stage_promotes_a_valid_key_and_keeps_the_old_as_previous(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--yes")
    sm = client(sandbox)
    old = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    register_secret(old)
    new = "sk_test_sandbx" + secrets.token_hex(16)
    register_secret(new)
    result = rotation(sandbox, "stage", name, stdin=new + "\n")
    assert result.returncode == 0, result.stderr
    assert new not in result.stdout + result.stderr
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"] == new
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == old
    other_account = rotation(sandbox, "stage", name, stdin="sk_test_othacc" + secrets.token_hex(16))
    assert other_account.returncode == 2
    assert "another Stripe account" in other_account.stderr


def test_rollback_refuses_single_user_postgres_and_restores_others(sandbox: dict[str, str]) -> None:
    assert rotation(sandbox, "rotate", "amply/sandbox/database-url", "--quiet").returncode == 0
    refused = rotation(sandbox, "rollback", "amply/sandbox/database-url", "--yes")
    assert refused.returncode == 1
    assert "single PostgreSQL user" in refused.stderr
    assert rotation(sandbox, "rotate", "amply/sandbox/redis-url", "--quiet").returncode == 0
    before = status(sandbox)["amply/sandbox/redis-url"]["versions"]
    previous = next(v for v, stages in before.items() if "AWSPREVIOUS" in stages)
    done = rotation(sandbox, "rollback", "amply/sandbox/redis-url", "--yes")
    assert done.returncode == 0, done.stderr
    after = status(sandbox)["amply/sandbox/redis-url"]
    assert after["versions"][previous] == ["AWSCURRENT"]
    assert after["stuck_pending"] is None
    assert rotation(sandbox, "rotate", "amply/sandbox/redis-url", "--quiet").returncode == 0  # still rotates
    harvest(sandbox)


def test_rotate_all_under_a_prefix(sandbox: dict[str, str]) -> None:
    result = rotation(sandbox, "rotate", "--all", "amply/sandbox/re", "--concurrency", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "2 rotated, 0 failed" in result.stdout  # redis-url and reporting-database-url; redis-admin has no rotation
    harvest(sandbox)


def test_usage_errors_exit_2(sandbox: dict[str, str]) -> None:
    assert rotation(sandbox, "rotate").returncode == 2
    assert rotation(sandbox, "frobnicate").returncode == 2
    assert rotation(sandbox, "stage", "amply/sandbox/session-secret", stdin="x").returncode == 2
