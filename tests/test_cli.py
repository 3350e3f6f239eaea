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

from rotation_cli.table import WIDTH
from tests.helpers import start_serve, stop_serve, table_rows
from tests.leak_canary import register_output, register_secret


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``python -m sandbox serve`` in its own process; yields the environment the CLI needs."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    # The commands' own behaviour, rotating secrets back to back: no consumer services (the guard would hold each
    # rotation until their tasks moved on). Consumers are exercised by the scenarios below and test_consumer_guard.
    process, endpoint = start_serve(log, "serve", "--no-consumers")
    try:
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
        stop_serve(process)
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
            "pending_version", "pending", "due", "last_failure", "health", "problems",
        }  # fmt: skip
        assert (entry["health"], entry["problems"]) == ("ok", [])
        assert list(entry["versions"].values()).count(["AWSCURRENT"]) == 1
    text = rotation(sandbox, "status", "amply/sandbox/")
    assert text.returncode == 0
    assert max(map(len, text.stdout.splitlines())) <= WIDTH
    rows = table_rows(text.stdout, "amply/sandbox/")
    assert {name: rows[name][1] for name in expected_kinds} == expected_kinds
    assert rows["amply/sandbox/session-secret"][4].endswith(" UTC")  # next rotation, in UTC
    assert rows["amply/sandbox/session-secret"][-1] == ""  # no warning: healthy
    healthy = rotation(sandbox, "status", "amply/sandbox/session-secret", "--check")
    assert (healthy.returncode, healthy.stdout.splitlines()[-1]) == (0, "all healthy")
    harvest(sandbox)


def test_rotate_follows_every_step_to_completion(sandbox: dict[str, str]) -> None:
    result = rotation(sandbox, "rotate", "amply/sandbox/session-secret")
    assert result.returncode == 0, result.stderr
    assert "createSecret (pending value stored" in result.stderr
    assert "finishSecret (promoted" in result.stderr
    token = result.stdout.strip().rsplit(" ", 1)[-1]
    assert status(sandbox)["amply/sandbox/session-secret"]["versions"][token] == [
        "AWSCURRENT",
        "AWSPENDING",
        "VERIFIED",
    ]
    harvest(sandbox)


def test_failed_rotation_names_the_step_and_unstick_recovers(sandbox: dict[str, str]) -> None:
    """A failed step is STUCK with the step, when and why; unstick refuses (exit 2) while Secrets Manager may still
    retry it, and abandons it with --force after confirmation."""
    name = "amply/sandbox/stripe-secret-key"
    failed = rotation(sandbox, "rotate", name)
    assert failed.returncode == 1
    assert "createSecret failed: StagingRequiredError" in failed.stderr
    assert f"rotation stage {name}" in failed.stderr
    entry = status(sandbox)[name]
    stuck = entry["pending_version"]
    assert stuck
    assert entry["pending"]["state"] == "stuck"
    assert (entry["pending"]["last_step"], entry["pending"]["error_type"]) == ("createSecret", "StagingRequiredError")
    warning = table_rows(rotation(sandbox, "status", name).stdout, name)[name][-1]
    assert warning.startswith("STUCK: createSecret failed at 20"), warning
    assert "StagingRequiredError" in warning
    refused = rotation(sandbox, "rotate", name)
    assert refused.returncode == 2  # RotateSecret refused: nothing changed
    assert f"rotation rotate {name} --wait" in refused.stderr
    too_soon = rotation(sandbox, "unstick", name, "--yes")
    assert too_soon.returncode == 2, too_soon.stderr
    assert "Secrets Manager may retry it until" in too_soon.stderr or "within the function's 60 s" in too_soon.stderr
    assert f"rotation unstick {name} --force" in too_soon.stderr
    aborted = rotation(sandbox, "unstick", name, "--force", stdin="no\n")
    assert aborted.returncode == 2
    assert status(sandbox)[name]["pending_version"] == stuck
    done = rotation(sandbox, "unstick", name, "--force", "--yes")
    assert done.returncode == 0, done.stderr
    entry = status(sandbox)[name]
    assert entry["pending_version"] is None
    # Unstuck, the failed attempt is still the last one since the last success: status --check says so (exit 1).
    assert entry["health"] == "attention"
    assert entry["last_failure"]["step"] == "createSecret"
    assert entry["problems"][0].startswith("last attempt failed: createSecret at 20")
    checked = rotation(sandbox, "status", name, "--check")
    assert checked.returncode == 1
    assert checked.stdout.splitlines()[-1] == "1 of 1 secrets need attention"
    assert "last attempt failed: createSecret" in " ".join(table_rows(checked.stdout, name)[name])


def test_a_rotation_in_progress_is_not_called_stuck(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotation a moment old (createSecret running: AWSPENDING on a fresh version, no step logged) is in progress:
    status says so, unstick refuses without --force (exit 2, nothing changed), and a timeout shorter than a second
    is reported as given, not as "0 s"."""
    from rotation_cli.aws import Aws
    from rotation_cli.output import CommandError
    from rotation_cli.rotate import follow

    name = "amply/sandbox/session-secret"
    sm = client(sandbox)
    current = sm.get_secret_value(SecretId=name)["SecretString"]
    token = sm.put_secret_value(SecretId=name, SecretString=current, VersionStages=["AWSPENDING"])["VersionId"]
    try:
        entry = status(sandbox)[name]
        assert entry["pending_version"] == token
        assert entry["pending"]["state"] == "in progress"
        assert table_rows(rotation(sandbox, "status", name).stdout, name)[name][-1].startswith("in progress since")
        refused = rotation(sandbox, "unstick", name, "--yes")
        assert refused.returncode == 2, refused.stderr
        assert "not abandoned yet" in refused.stderr
        assert status(sandbox)[name]["pending_version"] == token
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            monkeypatch.setenv(key, sandbox[key])
        aws = Aws(region="us-east-1", endpoint_url=sandbox["AWS_ENDPOINT_URL"])
        with pytest.raises(CommandError, match=r"after 0\.5 s \(in progress since"):
            follow(aws, name, token, timeout=0.5, poll=0.1, since_ms=0, quiet=True)
    finally:
        assert rotation(sandbox, "unstick", name, "--force", "--yes").returncode == 0


def test_wait_never_starts_a_rotation_right_after_one_finished(sandbox: dict[str, str]) -> None:
    """`rotate --wait` run as the earlier rotation finishes reports it and starts none (for an AUTH token a second
    ROTATE would drop the oldest token); RotateSecret re-driving a version that already finished changes nothing."""
    name = "amply/sandbox/redis-url"
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 0
    before = status(sandbox)[name]["versions"]
    waited = rotation(sandbox, "rotate", name, "--wait")
    assert waited.returncode == 0, waited.stderr
    assert "does not start another" in waited.stderr
    assert status(sandbox)[name]["versions"] == before
    current = next(v for v, stages in before.items() if "AWSCURRENT" in stages)
    client(sandbox).rotate_secret(SecretId=name, ClientRequestToken=current)  # what --wait sends for a retry
    deadline = time.monotonic() + 30
    while status(sandbox)[name]["pending_version"] is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    after = status(sandbox)[name]["versions"]
    assert set(after) == set(before), "a second rotation was started"
    assert after[current][:1] == ["AWSCURRENT"]
    harvest(sandbox)


def test_stage_while_a_rotation_is_unfinished_follows_it_to_the_staged_value(sandbox: dict[str, str]) -> None:
    """A rotation that found nothing staged is retried by Secrets Manager and takes the staged key: `stage` follows
    it and reports success (exit 0), not the RotateSecret refusal."""
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 1  # nothing staged: stuck in createSecret
    key = "sk_test_sandbx" + secrets.token_hex(12)
    register_secret(key)
    staged = rotation(sandbox, "stage", name, stdin=key)
    assert staged.returncode == 0, staged.stderr
    assert "error" not in staged.stderr
    assert client(sandbox).get_secret_value(SecretId=name)["SecretString"] == key
    assert status(sandbox)[name]["pending_version"] is None
    harvest(sandbox)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("sk_test_sandbx with space\n", "contains whitespace"),
        ("pk_test_" + "a" * 30, "not a Stripe key"),
        ("sk_live_sandbx" + "b" * 24, "live-mode key is refused"),
        ("sk_test_invalid", "not a Stripe key"),
        ("sk_test_" + "c" * 70_000, "over Secrets Manager's limit of 65536"),
    ],
)
def test_stage_refuses_bad_values_and_stages_nothing(sandbox: dict[str, str], value: str, problem: str) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
    result = rotation(sandbox, "stage", name, stdin=value)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "nothing staged" in result.stderr
    labels = {label for versions in status(sandbox)[name]["versions"].values() for label in versions}
    assert "STAGED" not in labels


def test_stage_promotes_a_valid_key_and_keeps_the_old_as_previous(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
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
    assert refused.returncode == 2
    assert "single PostgreSQL user" in refused.stderr
    assert rotation(sandbox, "rotate", "amply/sandbox/elasticache-url", "--quiet").returncode == 0
    before = status(sandbox)["amply/sandbox/elasticache-url"]["versions"]
    previous = next(v for v, stages in before.items() if "AWSPREVIOUS" in stages)
    done = rotation(sandbox, "rollback", "amply/sandbox/elasticache-url", "--yes")
    assert done.returncode == 0, done.stderr
    after = status(sandbox)["amply/sandbox/elasticache-url"]
    assert after["versions"][previous] == ["AWSCURRENT"]
    assert after["pending_version"] is None
    assert rotation(sandbox, "rotate", "amply/sandbox/elasticache-url", "--quiet").returncode == 0  # still rotates
    harvest(sandbox)


def test_rotate_all_under_a_prefix(sandbox: dict[str, str]) -> None:
    result = rotation(sandbox, "rotate", "--all", "amply/sandbox/re", "--concurrency", "2", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    # redis-url, reporting-database-url and reporting-replica-url; redis-admin has no rotation
    assert "3 rotated, 0 failed" in result.stdout
    harvest(sandbox)


def test_usage_errors_exit_2(sandbox: dict[str, str]) -> None:
    assert rotation(sandbox, "rotate").returncode == 2
    assert rotation(sandbox, "frobnicate").returncode == 2
    assert rotation(sandbox, "stage", "amply/sandbox/session-secret", stdin="x").returncode == 2


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers, so any AWS call would fail with exit 1


def one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The result failed with ``status`` and one message line, no traceback; returns that line."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.stderr
    assert lines[-1].startswith(("error:", "rotation")), result.stderr
    return lines[-1]


def test_a_name_with_all_is_refused_before_any_call(sandbox: dict[str, str]) -> None:
    env = {**sandbox, "AWS_ENDPOINT_URL": UNREACHABLE}
    refused = rotation(env, "rotate", "amply/sandbox/redis-url", "--all", "amply/")
    assert "not both" in one_line_error(refused, 2)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["rotate", "--all", "amply/", "--concurrency", "0"], "must be at least 1"),
        (["rotate", "amply/sandbox/redis-url", "--timeout", "soon"], "not a number of seconds"),
        (["rotate", "amply/sandbox/no-such-secret"], "no such secret"),
        (["status", "--profile", "no-such-profile"], "no-such-profile"),
    ],
)
def test_bad_input_exits_2_with_one_line(sandbox: dict[str, str], args: list[str], problem: str) -> None:
    assert problem in one_line_error(rotation(sandbox, *args), 2)


def test_a_missing_region_exits_2_with_one_line(sandbox: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in sandbox.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    assert "region" in one_line_error(rotation(env, "status"), 2)


def test_errors_name_where_they_looked_and_what_to_set(sandbox: dict[str, str], tmp_path: Path) -> None:
    """No credentials: a --profile hint and exit 2 (nothing was called); an unreachable endpoint and a missing
    secret name the region and endpoint."""
    bare = {k: v for k, v in sandbox.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    bare.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
    no_credentials = one_line_error(rotation(bare, "status", "amply/sandbox/"), 2)
    assert "--profile" in no_credentials
    unreachable = one_line_error(rotation({**sandbox, "AWS_ENDPOINT_URL": UNREACHABLE}, "status"), 1)
    assert UNREACHABLE in unreachable
    missing = one_line_error(rotation(sandbox, "rotate", "amply/sandbox/no-such-secret"), 2)
    assert "us-east-1" in missing
    assert sandbox["AWS_ENDPOINT_URL"] in missing
    version = rotation(sandbox, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("rotation ")


def test_aws_options_after_the_command_and_the_place_looked_in(sandbox: dict[str, str]) -> None:
    env = {k: v for k, v in sandbox.items() if k != "AWS_ENDPOINT_URL"}
    endpoint = sandbox["AWS_ENDPOINT_URL"]
    elsewhere = rotation(env, "status", "amply/", "--region", "eu-west-1", "--endpoint-url", endpoint)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert elsewhere.stdout.strip() == f"no secrets under amply/ in region eu-west-1 at {endpoint}"
    here = rotation(env, "status", "amply/sandbox/", "--json", "--endpoint-url", endpoint)
    assert here.returncode == 0, here.stderr
    assert {entry["name"] for entry in json.loads(here.stdout)["secrets"]} >= {"amply/sandbox/redis-url"}


def test_help_shows_no_markup(sandbox: dict[str, str]) -> None:
    for args in (["--help"], ["rotate", "--help"], ["stage", "--help"]):
        shown = rotation(sandbox, *args)
        assert shown.returncode == 0
        assert "``" not in shown.stdout
        assert "usage: rotation" in shown.stdout


def test_stage_on_a_secret_without_rotation_says_so(sandbox: dict[str, str]) -> None:
    line = one_line_error(rotation(sandbox, "stage", "amply/sandbox/database-master", stdin="x"), 2)
    assert "has no rotation by this suite configured" in line


def test_an_unreachable_stripe_is_a_failure_not_bad_input(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
    env = {**sandbox, "ROTATION_STRIPE_API_BASE": UNREACHABLE}
    line = one_line_error(rotation(env, "stage", name, stdin="sk_test_sandbx" + "u" * 24), 1)
    assert "nothing staged" in line


def test_rotate_all_skips_secrets_waiting_for_a_staged_value(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
    before = status(sandbox)[name]["versions"]
    result = rotation(sandbox, "rotate", "--all", "amply/sandbox/", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{name}: skipped: needs a staged value (`rotation stage {name}`)" in result.stdout
    rotatable = [e for e in status(sandbox).values() if e["rotation_enabled"] and e["name"] != name]
    assert result.stdout.splitlines()[-1] == f"{len(rotatable)} rotated, 0 failed, 1 skipped"
    assert status(sandbox)[name]["versions"] == before  # not touched: no stuck rotation left behind
    harvest(sandbox)


def test_a_stuck_rotation_says_secrets_manager_retries_and_wait_follows_it(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", name, "--force", "--yes")
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 1  # nothing staged: stuck in createSecret
    stuck = status(sandbox)[name]["pending_version"]
    refused = one_line_error(rotation(sandbox, "rotate", name), 2)
    assert "Secrets Manager is retrying it" in refused
    assert f"rotation rotate {name} --wait" in refused
    key = "sk_test_sandbx" + secrets.token_hex(12)
    register_secret(key)
    staged = rotation(sandbox, "stage", name, "--no-rotate", stdin=key)
    assert staged.returncode == 0, staged.stderr
    followed = rotation(sandbox, "rotate", name, "--wait")
    assert followed.returncode == 0, followed.stderr
    assert "following it" in followed.stderr
    assert status(sandbox)[name]["versions"][stuck] == ["AWSCURRENT", "AWSPENDING", "VERIFIED"]
    assert client(sandbox).get_secret_value(SecretId=name)["SecretString"] == key


def test_the_outcome_comes_from_secrets_manager_when_logs_are_unreadable(
    sandbox: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3 as aws_sdk

    from rotation_cli.aws import Aws
    from rotation_cli.output import CommandError
    from rotation_cli.rotate import follow

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, sandbox[key])
    aws = Aws(region="us-east-1", endpoint_url=sandbox["AWS_ENDPOINT_URL"])
    aws._logs = aws_sdk.client("logs", region_name="us-east-1", endpoint_url=UNREACHABLE)  # logs cannot be read
    name = "amply/sandbox/session-secret"
    token = client(sandbox).rotate_secret(SecretId=name)["VersionId"]
    follow(aws, name, token, timeout=60, poll=0.2, since_ms=0, quiet=False)  # returns: AWSCURRENT moved to token
    said = capsys.readouterr().err
    assert said.count("cannot read /aws/lambda/") == 1
    assert status(sandbox)[name]["versions"][token] == ["AWSCURRENT", "AWSPENDING", "VERIFIED"]
    stripe = "amply/sandbox/stripe-secret-key"
    rotation(sandbox, "unstick", stripe, "--force", "--yes")
    stuck = client(sandbox).rotate_secret(SecretId=stripe)["VersionId"]  # fails: nothing staged
    with pytest.raises(CommandError, match="still not AWSCURRENT after 2 s"):
        follow(aws, stripe, stuck, timeout=2, poll=0.2, since_ms=0, quiet=False)
    assert capsys.readouterr().err.count("cannot read /aws/lambda/") == 1
    rotation(sandbox, "unstick", stripe, "--force", "--yes")
    harvest(sandbox)


def test_ctrl_c_while_following_says_what_carries_on(
    sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C stops only the command: no traceback, exit 130, and it says the rotation goes on in Secrets Manager
    and how to follow it; the rotation it started does finish."""

    from rotation_cli import rotate as rotate_command
    from rotation_cli.__main__ import INTERRUPTED, main

    name = "amply/sandbox/session-secret"
    before = next(v for v, stages in status(sandbox)[name]["versions"].items() if "AWSCURRENT" in stages)
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, sandbox[key])
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the operator's Ctrl-C while the command follows the steps

    monkeypatch.setattr(rotate_command, "follow", interrupted)
    assert main(["rotate", name]) == INTERRUPTED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "carries on in Secrets Manager" in err
    assert f"rotation status {name}" in err
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entry = status(sandbox)[name]
        current = next(v for v, stages in entry["versions"].items() if "AWSCURRENT" in stages)
        if current != before and entry["pending_version"] is None:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the rotation the interrupted command started did not finish")
    harvest(sandbox)


def test_rollback_after_revoke_previous_refuses_to_promote_a_dead_credential(sandbox: dict[str, str]) -> None:
    """The runbook ends with revoke-previous; a rollback after it would make a refused credential current. The
    rotation function proves AWSPREVIOUS still logs in first: here it does not, so nothing changes (exit 2)."""
    name = "amply/sandbox/redis-url"
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 0
    assert rotation(sandbox, "revoke-previous", name, "--yes").returncode == 0
    before = status(sandbox)[name]["versions"]
    refused = rotation(sandbox, "rollback", name, "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "no longer works" in refused.stderr
    assert f"rotation rotate {name}" in refused.stderr
    assert status(sandbox)[name]["versions"] == before, "a refused rollback changes nothing"
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 0  # the forward path
    harvest(sandbox)


@pytest.fixture(scope="module")
def troubled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``serve`` with every ``--scenario``: one sandbox in each named trouble state."""
    from sandbox.scenarios import SCENARIOS

    log = tmp_path_factory.mktemp("troubled") / "serve.log"
    options = [option for scenario in SCENARIOS for option in ("--scenario", scenario)]
    process, endpoint = start_serve(log, "serve", *options)
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "sandbox",
               "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
        env.pop("AWS_PROFILE", None)
        yield env
    finally:
        stop_serve(process)
        register_output("sandbox serve --scenario output", log.read_text())


@pytest.mark.parametrize(
    ("scenario", "secret", "problem"),
    [
        ("stuck", "stripe-secret-key", "STUCK: createSecret failed at 20"),
        ("failing-target", "database-url", "STUCK: setSecret failed at 20"),
        ("stale-consumer", "redis-url", "ECS consumer task(s) launched before AWSCURRENT became current"),
        ("overdue", "session-secret", "overdue: due 20"),
    ],
)
def test_status_check_names_each_scenario_of_the_sandbox(
    troubled: dict[str, str], scenario: str, secret: str, problem: str
) -> None:
    name = f"amply/sandbox/{secret}"
    checked = rotation(troubled, "status", name, "--check", "--consumers", "--json")
    assert checked.returncode == 1, (scenario, checked.stderr)
    (entry,) = json.loads(checked.stdout)["secrets"]
    assert entry["health"] == "attention"
    assert any(problem in found for found in entry["problems"]), entry["problems"]
    harvest(troubled)


def test_status_check_passes_where_no_scenario_applies(troubled: dict[str, str]) -> None:
    healthy = rotation(troubled, "status", "amply/sandbox/api-encryption-key", "--check", "--consumers")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.splitlines()[-1] == "all healthy"


def test_dry_run_says_what_would_happen_and_changes_nothing(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/api-encryption-key"
    assert rotation(sandbox, "rotate", name, "--quiet").returncode == 0  # so there is an AWSPREVIOUS
    before = status(sandbox)[name]["versions"]
    planned = rotation(sandbox, "rotate", name, "--dry-run")
    assert (planned.returncode, planned.stdout.splitlines()[0]) == (
        0, f"{name}: dry run: would rotate now: RotateSecret, then follow it until the new version is AWSCURRENT"
    )  # fmt: skip
    everything = rotation(sandbox, "rotate", "--all", "amply/sandbox/", "--dry-run", "--json")
    assert everything.returncode == 0, everything.stderr
    plans = json.loads(everything.stdout)["plans"]
    assert plans[name].startswith("rotate now")
    assert "amply/sandbox/redis-admin" not in plans  # no rotation: not a candidate
    rollback = rotation(sandbox, "rollback", name, "--dry-run")
    assert rollback.returncode == 0, rollback.stderr
    assert "dry run: would make" in rollback.stdout
    assert rotation(sandbox, "unstick", name, "--dry-run").stdout.strip().endswith("(nothing to do)")
    revoke = rotation(sandbox, "revoke-previous", name, "--dry-run", "--json")
    assert (revoke.returncode, json.loads(revoke.stdout)["outcome"]) == (0, "would revoke")
    assert status(sandbox)[name]["versions"] == before, "a dry run changed the versions"
    harvest(sandbox)


def test_every_command_answers_json_and_so_does_an_error(sandbox: dict[str, str]) -> None:
    name = "amply/sandbox/api-encryption-key"
    rotated = rotation(sandbox, "rotate", name, "--quiet", "--json")
    assert rotated.returncode == 0, rotated.stderr
    answer = json.loads(rotated.stdout)
    assert (answer["secret"], answer["outcome"]) == (name, "rotated")
    assert status(sandbox)[name]["versions"][answer["current_version"]][0] == "AWSCURRENT"
    missing = rotation(sandbox, "rollback", "amply/sandbox/no-such-secret", "--yes", "--json")
    assert missing.returncode == 2
    error = json.loads(missing.stdout)
    assert error["exit_status"] == 2
    assert error["error"].startswith("no such secret: amply/sandbox/no-such-secret")
    harvest(sandbox)


def test_every_argument_of_every_command_has_help() -> None:
    import argparse

    from rotation_cli.__main__ import parser

    top = parser()
    commands = next(action for action in top._actions if isinstance(action, argparse._SubParsersAction))
    for name, command in [("rotation", top), *commands.choices.items()]:
        for action in command._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{name} {'/'.join(action.option_strings) or action.dest} has no help"


def test_the_shell_completes_commands_options_and_secret_names(sandbox: dict[str, str], tmp_path: Path) -> None:
    """argcomplete, as `eval "$(register-python-argcomplete rotation)"` wires it: secret names come from
    ListSecrets with the command line's own endpoint."""
    answers = tmp_path / "completions"

    def complete(line: str) -> set[str]:
        env = {**sandbox, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
               "_ARGCOMPLETE_STDOUT_FILENAME": str(answers), "_ARGCOMPLETE_IFS": "\n"}  # fmt: skip
        done = subprocess.run([str(Path(sys.executable).with_name("rotation"))], env=env, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return {word.strip() for word in answers.read_text().split("\n") if word.strip()}

    assert complete("rotation ro") == {"rotate", "rollback"}
    assert "--dry-run" in complete("rotation rotate --d")
    assert complete("rotation rotate amply/sandbox/red") == {"amply/sandbox/redis-url", "amply/sandbox/redis-admin"}
