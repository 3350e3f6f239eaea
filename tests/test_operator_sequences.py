"""The runbook's invariant over sequences of operator commands, Secrets Manager's retries and the world's events,
for every harness path (``sandbox.sequences``): a bounded, derandomized run. ``scripts/sequences.py`` runs the
longer one whose figures are in docs/benchmark.md."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from sandbox.harness import HARNESSES
from sandbox.moto_server import environment
from sandbox.sequences import SequenceWorld, machine_for

BOUNDED = settings(
    max_examples=2,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,  # the same sequences on every run of the suite; the script explores with random seeds
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def world() -> Iterator[SequenceWorld]:
    """A sandbox of its own (its ECS agent runs real consumer tasks), its managed waits short."""
    from sandbox.session import running_sandbox

    with environment({"ROTATION_REDIS_MANAGED_WAIT_SECONDS": "2"}), running_sandbox() as servers:
        prepared = SequenceWorld(servers)
        try:
            yield prepared
        finally:
            prepared.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("label", [harness.label for harness in HARNESSES])
def test_no_sequence_of_the_runbook_breaks_a_credential_in_use(world: SequenceWorld, label: str) -> None:
    before, seen = world.stats.steps, len(world.stats.violations)
    run_state_machine_as_test(machine_for(world, label), settings=BOUNDED)
    assert world.stats.steps > before, "no rule ran: the invariant was never checked"
    assert world.stats.violations[seen:] == []  # this path's (another path's violation fails its own test)
