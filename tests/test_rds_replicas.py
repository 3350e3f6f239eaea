"""Secrets that point at a read replica or an Aurora reader: changed on the writer, tested where they point.

The session's PostgreSQL has a real streaming replica (``pg_basebackup``); the RDS API stand-in lists it as
``amply-ledger``'s read replica and as ``amply-reports``'s reader (endpoint and member instance). Replication
lag is real too: ``set_apply_delay`` makes the replica replay its writer's changes late.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from rotator.constants import Stage, Step
from rotator.errors import ForbiddenTargetError, TargetBusyError, TargetRejectedError
from sandbox.harness import Targets
from sandbox.postgres_server import PostgresServer
from sandbox.probes import postgres_logs_in
from sandbox.rds import RdsDatabases
from sandbox.seed import seed_postgres_role
from tests.helpers import emulator_for, engine_for, expect_failure

FAILED = "password authentication failed"


@pytest.fixture
def replica(postgres_replica: PostgresServer) -> Iterator[PostgresServer]:
    """The session's replica, replaying without delay again after the test."""
    yield postgres_replica
    postgres_replica.set_apply_delay(0)


def _seed(targets: Targets, **fields: Any) -> dict[str, Any]:
    """A role on the writer whose JSON secret points at the replica (``fields`` added or removed when None)."""
    role = f"amply_reader_{secrets.token_hex(3)}"
    value = json.loads(seed_postgres_role(targets.postgres_url, role, masterarn="", replica=targets.postgres_replica))
    value.update(fields)
    return {key: item for key, item in value.items() if item is not None}


def _behind(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str], name: str,
    delay_ms: int,
) -> tuple[str, Any]:  # fmt: skip
    """A pair on ``amply-ledger``'s read replica, the replica ``delay_ms`` behind, and an emulator whose function
    waits 1 s for it."""
    value = _seed(targets, masterarn=rds.databases["amply-ledger"].secret_arn)
    arn = make_secret(name, json.dumps(value), "postgres")
    replica.set_apply_delay(delay_ms)
    return arn, emulator_for(engine_for("postgres", ROTATION_POSTGRES_REPLICA_WAIT_SECONDS="1"))


def _on_writer(targets: Targets, text: str) -> bool:
    """Whether the secret's login works on the writer (the server the replica follows)."""
    from rotator.codecs import ConnectionUrl

    writer = ConnectionUrl.parse(targets.postgres_url)
    return postgres_logs_in(json.dumps({**json.loads(text), "host": writer.host, "port": writer.port}))


def _aurora(rds: RdsDatabases, value: dict[str, Any]) -> dict[str, Any]:
    """The secret on the Aurora cluster ``amply-reports``'s own database (where the server answers as Aurora)."""
    return {**value, "dbname": rds.databases["amply-reports"].dbname}


def test_the_sandbox_presents_aurora_as_aurora_answers(targets: Targets, rds: RdsDatabases) -> None:
    """What the Aurora path relies on, as the sandbox shows it: the RDS API's engine, ``aurora_version()``, and WAL
    position functions that refuse (Aurora's readers replay no WAL)."""
    import boto3
    from psycopg import errors

    client = boto3.client("rds")
    cluster = client.describe_db_clusters(DBClusterIdentifier="amply-reports")["DBClusters"][0]
    member = client.describe_db_instances(DBInstanceIdentifier="amply-reports-reader-1")["DBInstances"][0]
    assert (cluster["Engine"], member["Engine"]) == ("aurora-postgresql", "aurora-postgresql")
    with psycopg.connect(targets.postgres_url, dbname=rds.databases["amply-reports"].dbname, autocommit=True) as conn:
        assert conn.execute("SELECT aurora_version()").fetchone() is not None
        for function in ("pg_current_wal_lsn", "pg_last_wal_replay_lsn"):
            with pytest.raises(errors.FeatureNotSupported, match="not supported for Aurora"):
                conn.execute(f"SELECT {function}()")


def test_alternating_users_on_an_aurora_reader_endpoint(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """The master changes the clone on the writer and waits, bounded, until the reader takes its password; no WAL
    position is asked for, and AWSCURRENT logs in on the reader after every step."""
    value = _aurora(rds, _seed(targets, masterarn=rds.databases["amply-reports"].secret_arn))
    arn = make_secret(unique_name("reader-url"), json.dumps(value), "postgres")
    replica.set_apply_delay(1500)  # the reader takes every change 1.5 s late
    emulator = emulator_for(engine_for("postgres"))
    token = emulator.begin(arn)
    for step in Step:
        emulator.invoke(arn, token, step)
        assert postgres_logs_in(targets.value(arn, Stage.CURRENT)), f"AWSCURRENT refused on the reader after {step}"
    current, previous = targets.value(arn, Stage.CURRENT), targets.value(arn, Stage.PREVIOUS)
    assert json.loads(current)["host"] == value["host"]  # still the reader endpoint
    assert json.loads(current)["username"] == value["username"] + "_clone"
    assert postgres_logs_in(previous)  # on the reader, at once
    assert _on_writer(targets, current)


def test_a_single_user_on_an_aurora_reader_is_changed_on_the_writer_and_never_locked_out(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """Asking Aurora for a WAL position after ALTER ROLE committed would fail every retry: the old password gone,
    the new one never promoted. Aurora is known before the change, so the wait is a login on the reader."""
    value = _aurora(rds, _seed(targets, masterarn=None, dbClusterIdentifier="amply-reports"))
    arn = make_secret(unique_name("aurora-url"), json.dumps(value), "postgres")
    replica.set_apply_delay(800)
    result = emulator_for(engine_for("postgres")).rotate(arn)
    assert result.ok, result.error
    current = targets.value(arn, Stage.CURRENT)
    assert postgres_logs_in(current)
    assert _on_writer(targets, current)


def test_an_aurora_reader_further_behind_than_the_wait_is_busy_and_the_retry_converges(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    value = _aurora(rds, _seed(targets, masterarn=rds.databases["amply-reports"].secret_arn))
    arn = make_secret(unique_name("aurora-url"), json.dumps(value), "postgres")
    replica.set_apply_delay(3000)
    emulator = emulator_for(engine_for("postgres", ROTATION_POSTGRES_REPLICA_WAIT_SECONDS="1"))
    result = emulator.rotate(arn)
    assert result.failed_step is Step.SET
    assert isinstance(result.error, TargetBusyError)
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))  # nothing promoted; the current user works
    replica.set_apply_delay(0)
    assert emulator.retry(arn).ok
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))


def test_a_single_user_on_a_read_replica_changes_its_password_on_the_writer(
    targets: Targets, replica: PostgresServer, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    value = _seed(targets, masterarn=None, dbInstanceIdentifier="amply-ledger-replica")
    arn = make_secret(unique_name("replica-url"), json.dumps(value), "postgres")
    replica.set_apply_delay(1000)
    failed = replica.log_text().count(FAILED)
    result = emulator_for(engine_for("postgres")).rotate(arn)
    assert result.ok, result.error
    current = targets.value(arn, Stage.CURRENT)
    assert postgres_logs_in(current)
    assert _on_writer(targets, current)
    assert replica.log_text().count(FAILED) == failed  # before this test's own refused login, below
    assert not postgres_logs_in(targets.value(arn, Stage.PREVIOUS))


def test_a_single_user_on_a_replica_without_its_database_named_changes_nothing(
    targets: Targets, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    value = _seed(targets, masterarn=None)
    arn = make_secret(unique_name("replica-url"), json.dumps(value), "postgres")
    error = expect_failure(targets.client, emulator_for(engine_for("postgres")), arn, Step.SET, TargetRejectedError)
    assert "read replica" in str(error)
    assert "dbInstanceIdentifier" in str(error)
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))


def test_a_replica_further_behind_than_the_wait_is_busy_and_the_retry_converges(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    arn, emulator = _behind(targets, rds, replica, make_secret, unique_name("replica-url"), 3000)
    result = emulator.rotate(arn)
    assert result.failed_step is Step.SET
    assert isinstance(result.error, TargetBusyError)
    assert "has not replayed the password change after 1 s" in str(result.error)
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))  # nothing promoted; the current user works
    replica.set_apply_delay(0)
    retried = emulator.retry(arn)
    assert retried.ok, retried.error
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))
    assert postgres_logs_in(targets.value(arn, Stage.PREVIOUS))


def test_test_secret_waits_for_a_replica_that_set_secret_did_not_see_catch_up(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    arn, emulator = _behind(targets, rds, replica, make_secret, unique_name("replica-url"), 2000)
    token = emulator.begin(arn)
    emulator.invoke(arn, token, Step.CREATE)
    with pytest.raises(TargetBusyError):
        emulator.invoke(arn, token, Step.SET)  # changed on the writer; the replica 2 s behind
    pending = targets.value(arn, Stage.PENDING)
    assert not postgres_logs_in(pending)
    assert _on_writer(targets, pending)
    patient = emulator_for(engine_for("postgres", ROTATION_POSTGRES_REPLICA_WAIT_SECONDS="10"))
    patient.invoke(arn, token, Step.TEST)  # polls the reader until the change is replayed
    assert postgres_logs_in(pending)


def test_a_host_the_rds_api_lists_as_no_reader_is_refused(
    targets: Targets, replica: PostgresServer, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    """The replica's own port is a server the RDS API does not list: the master stays on its own server."""
    value = _seed(targets, masterarn=targets.rds_master_arn)
    value["host"], value["port"] = replica.host, replica.port  # the replica itself, not its listed front
    arn = make_secret(unique_name("replica-url"), json.dumps(value), "postgres")
    error = expect_failure(targets.client, emulator_for(engine_for("postgres")), arn, Step.SET, ForbiddenTargetError)
    assert "lists no reader" in str(error)
    clone = value["username"] + "_clone"
    with psycopg.connect(targets.postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (clone,)).fetchone() is None


def test_a_master_with_a_host_serves_a_replica_its_secret_names(
    targets: Targets, replica: PostgresServer, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    """A self-kept master (with a host) reaches a reader when the secret names the database whose writer it is."""
    value = _seed(targets, masterarn=targets.master_arn, dbClusterIdentifier="amply-reports")
    arn = make_secret(unique_name("reader-url"), json.dumps(value), "postgres")
    result = emulator_for(engine_for("postgres")).rotate(arn)
    assert result.ok, result.error
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))
    assert postgres_logs_in(targets.value(arn, Stage.PREVIOUS))


def test_rollback_is_refused_while_the_replica_still_accepts_a_revoked_previous(
    targets: Targets, rds: RdsDatabases, replica: PostgresServer, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    """Found by the operator sequences: ``revoke-previous`` changes AWSPREVIOUS's password on the writer; a replica
    that has not replayed it yet still accepts the old one. ``rollback``'s proof (checkPrevious) must not pass
    there: it would promote a credential the replica refuses a moment later."""
    from rotator.constants import Action
    from rotator.errors import VerificationError
    from sandbox.rotate_secret import LambdaContext, lambda_arn
    from tests.helpers import version_with

    value = _seed(targets, masterarn=rds.databases["amply-ledger"].secret_arn)
    arn = make_secret(unique_name("replica-url"), json.dumps(value), "postgres")
    handler = engine_for("postgres")
    result = emulator_for(handler).rotate(arn)
    assert result.ok, result.error
    previous = targets.value(arn, Stage.PREVIOUS)

    def invoke(action: Action, stage: Stage) -> Any:
        event = {"Step": action.value, "SecretId": arn, "ClientRequestToken": version_with(targets.client, arn, stage)}
        return handler(event, LambdaContext(lambda_arn("postgres")))

    assert invoke(Action.CHECK_PREVIOUS, Stage.PREVIOUS) == {"outcome": "AWSPREVIOUS still works"}
    replica.set_apply_delay(30_000)
    invoke(Action.REVOKE_PREVIOUS, Stage.CURRENT)
    assert postgres_logs_in(previous)  # the replica has not replayed the revocation yet
    assert not _on_writer(targets, previous)
    with pytest.raises(VerificationError, match="no longer logs in to the writer"):
        invoke(Action.CHECK_PREVIOUS, Stage.PREVIOUS)
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))
