"""RDS-managed master secrets (``rds!db-…``, ``rds!cluster-…``): only ``username`` and ``password``, the host from
the secret's system tag and the RDS API, and AWSCURRENT read on every step because RDS rotates it itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from rotator.constants import Stage, Step
from rotator.errors import SecretFormatError
from sandbox.harness import Targets, by_label
from sandbox.probes import postgres_logs_in
from sandbox.rds import RdsDatabases
from tests.helpers import emulator_for, engine_for, expect_failure

LABEL = "postgres (alternating users, RDS-managed master)"


@pytest.mark.parametrize("database", ["amply-ledger", "amply-reports"], ids=["instance", "aurora cluster"])
def test_an_rds_managed_master_is_found_through_its_tag(
    database: str, targets: Targets, rds: RdsDatabases, make_secret: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    master = rds.databases[database].secret_arn
    assert "host" not in json.loads(targets.value(master, Stage.CURRENT))
    value = json.loads(by_label(LABEL).seed(targets))
    arn = make_secret(unique_name("rds-master"), json.dumps({**value, "masterarn": master}), "postgres")
    result = emulator_for(engine_for("postgres")).rotate(arn)
    assert result.ok, result.error
    assert by_label(LABEL).prove(targets, arn).endswith("both log in")


def test_a_master_rotated_by_rds_between_two_steps_is_read_again(
    targets: Targets, rds: RdsDatabases, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("rds-master"), by_label(LABEL).seed(targets), "postgres")
    handler = engine_for("postgres")  # one warm container for every step
    emulator = emulator_for(handler)
    token = emulator.begin(arn)
    emulator.invoke(arn, token, Step.CREATE)
    rds.rotate_master(targets.client, targets.rds_master_arn)  # the old master password stops working now
    for step in (Step.SET, Step.TEST, Step.FINISH):
        emulator.invoke(arn, token, step)
    assert postgres_logs_in(targets.value(arn, Stage.CURRENT))
    assert postgres_logs_in(targets.value(arn, Stage.PREVIOUS))


def test_a_master_without_host_or_rds_tag_is_a_format_error(
    targets: Targets, sm_client: Any, make_secret: Callable[..., str], unique_name: Callable[[str], str]
) -> None:
    from sandbox.moto_server import environment

    bare = sm_client.create_secret(Name=unique_name("bare-master"), SecretString=json.dumps(
        {"username": "someone", "password": "x" * 24}))["ARN"]  # fmt: skip
    value = json.loads(by_label(LABEL).seed(targets))
    arn = make_secret(unique_name("rds-master"), json.dumps({**value, "masterarn": bare}), "postgres")
    with environment({"ROTATION_POSTGRES_MASTER_SECRET_ARNS": bare}):
        error = expect_failure(targets.client, emulator_for(engine_for("postgres")), arn, Step.SET, SecretFormatError)
    assert "aws:rds:primaryDBInstanceArn" in str(error)
