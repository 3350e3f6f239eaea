"""The freshness check (the template's hourly function): the stack's secrets that have not rotated in time."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from rotator.errors import ConfigurationError
from rotator.freshness import METRIC, freshness_handler
from sandbox.rotate_secret import RotateSecretEmulator

MakeSecret = Callable[..., str]


def test_rotation_off_and_overdue_are_counted_and_named(
    emulator: RotateSecretEmulator, make_secret: MakeSecret, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"amply/fresh-{uuid.uuid4().hex[:6]}/"

    def secret(name: str, **options: Any) -> str:
        return make_secret(prefix + name, secrets.token_hex(16), **options)

    assert emulator.rotate(secret("healthy")).ok
    emulator.disable_rotation(secret("switched-off"))
    emulator.enable_rotation(secret("on-demand", rotation=False), "session_secret", schedule=None)  # never due
    late = secret("late")
    emulator.schedule_next(late, time.time() - 2 * 86400)  # its window closed two days ago
    secret("never-rotated", rotation=False)  # no rotation function: not the check's to judge
    capsys.readouterr()
    answer = freshness_handler({"ROTATION_SECRET_PREFIX": prefix})({"detail-type": "Scheduled Event"}, None)
    assert answer["checked"] == 4
    reasons = answer["needing_rotation"]
    assert set(reasons) == {prefix + "switched-off", prefix + "late"}
    assert reasons[prefix + "switched-off"] == "rotation is off"
    assert reasons[prefix + "late"].startswith("overdue: due ")
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(line[METRIC], line["function"]) for line in emitted if METRIC in line] == [([2.0], "freshness")]


def test_a_prefix_that_names_no_stack_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ROTATION_SECRET_PREFIX"):
        freshness_handler({"ROTATION_SECRET_PREFIX": "amply"})
