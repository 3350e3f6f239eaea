"""The runbook as sequences: a model-based test (Hypothesis's ``RuleBasedStateMachine``) of every harness path.

Each sequence seeds one secret of one path in a running sandbox, then applies, in an order Hypothesis chooses:

* the operator's commands, through the ``rotation`` command line against the sandbox's API: ``rotate``,
  ``rotate --wait``, two ``rotate`` racing, ``rollback``, ``unstick`` (with and without ``--force``),
  ``revoke-previous``, ``stage`` (Stripe);
* Secrets Manager's own behaviour: a scheduled rotation whose function dies right after a step, its retry;
* the world's: an ECS task launched at any moment (it reads AWSCURRENT once, as ``valueFrom`` does, and keeps
  logging in with it), RDS rotating the master it manages, a managed Redis resource staying ``modifying``.

After every rule, from outside and with the real clients: AWSCURRENT logs in, and no consumer task was ever
refused. Single-user PostgreSQL has one documented gap (docs/consumers.md): between its setSecret and finishSecret only
AWSPENDING logs in, so there the check accepts AWSPENDING, and no task is launched into that gap.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rotator.constants import Stage, Step
from sandbox.harness import KindHarness, by_label
from sandbox.session import Servers

__all__ = ["SequenceWorld", "Stats", "machine_for"]

FOLLOW_TIMEOUT = "30"  # seconds a command follows a rotation (a failed step shows at once: logs are shipped)
CONSUMER_KINDS = ("postgres", "redis")  # the kinds whose consumer tasks log in to a target
SINGLE_USER = "postgres (single user)"
RDS_MASTER = "postgres (alternating users, RDS-managed master)"


@dataclass
class Stats:
    """What the sequences did: how many, how many rules, which, the commands' exit codes, the violations."""

    sequences: int = 0
    steps: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    exits: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)


class SequenceWorld:
    """A running sandbox prepared for sequences: RotateSecret and Lambda answered over the API, the functions'
    log lines shipped (the commands read them), a crash injectable after any step, rotations counted."""

    def __init__(self, servers: Servers) -> None:
        from sandbox.lambda_logs import ship_handler_logs

        self.servers = servers
        self.stats = Stats()
        self.crash_after: Step | None = None
        self._active = 0
        self._idle = threading.Condition()
        emulator = servers.emulator
        emulator.wrap_functions(self._crashing)
        rotate = emulator.rotate

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._idle:
                self._active += 1
            try:
                return rotate(*args, **kwargs)
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

        emulator.rotate = counted  # RotateSecret's background rotations, and Secrets Manager's retries
        log = servers.moto.log
        log.rotate_secret, log.invoke_function = emulator.handle_api, emulator.invoke_function
        log.function_configuration = emulator.function_configuration
        self._shipper = ship_handler_logs(servers.moto.endpoint)

    def close(self) -> None:
        import logging

        from rotator.observability import logger

        logging.getLogger(logger.name).removeHandler(self._shipper)

    def _crashing(self, function: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            answer = function(event, context)
            step = self.crash_after
            if step is not None and event.get("Step") == step.value:
                self.crash_after = None
                raise RuntimeError(f"the function's process died right after {step.value}")
            return answer

        return invoke

    def settle(self, timeout: float = 60.0) -> None:
        """Until no rotation runs in the background and no consumer rollout is under way."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(0.1)
        time.sleep(0.05)  # a RotationSucceeded event's refresh starts its rollout
        self.servers.ecs.wait_until_settled(timeout)

    def command(self, *args: str, stdin: str = "") -> int:
        """The ``rotation`` command line, in this process, against the sandbox; its exit status."""
        with self.quiet(stdin):
            return self.run_command(*args)

    def run_command(self, *args: str) -> int:
        """``command`` without touching standard input and output (for commands run at once: ``quiet`` those)."""
        from rotation_cli.__main__ import main

        code = main(list(args))
        self.stats.exits[code] += 1
        return code

    @contextlib.contextmanager
    def quiet(self, stdin: str = "") -> Iterator[None]:
        """Standard input from ``stdin``, output discarded (process-wide: one ``quiet`` around concurrent commands)."""
        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            sys.stdin = saved


def _managed_resource(text: str) -> str | None:
    """The ElastiCache/MemoryDB user or replication group a managed secret changes (what stays modifying)."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or not document.get("managed_by"):
        return None
    if document.get("user_arn"):
        return str(document["user_arn"]).replace("/", ":").rsplit(":", 1)[-1]
    return str(document.get("replication_group_id") or "") or None


def machine_for(world: SequenceWorld, label: str) -> type[RuleBasedStateMachine]:
    """The state machine of one harness path (one secret per sequence)."""
    harness = by_label(label)
    return type(f"Sequences[{label}]", (_Sequence,), {"world": world, "harness": harness})


class _Sequence(RuleBasedStateMachine):
    world: SequenceWorld
    harness: KindHarness

    def __init__(self) -> None:
        super().__init__()
        self.world.settle()
        targets = self.world.servers.targets
        value = self.harness.seed(targets)
        name = f"amply/sequences/{self.harness.kind}-{secrets.token_hex(4)}"
        self.arn = str(targets.client.create_secret(Name=name, SecretString=value)["ARN"])
        emulator = self.world.servers.emulator
        emulator.enable_rotation(self.arn, self.harness.kind)
        # A secret in service: rotated once (a signing key's public key is published then; AWSPREVIOUS exists).
        self.harness.before_rotation(targets, self.arn)
        result = emulator.rotate_converging(self.arn, retries=3)  # a managed resource still modifying: retried
        if not result.ok:
            raise RuntimeError(f"{self.harness.label}: the first rotation failed at {result.failed_step}: "
                               f"{type(result.error).__name__}: {result.error}")  # fmt: skip
        self.services: list[Any] = []
        self.held: str | None = None
        self.world.stats.sequences += 1

    def teardown(self) -> None:
        self.world.settle()
        for service in self.services:
            self.world.servers.ecs.stop_service(service)
        if self.held is not None:
            self.world.servers.targets.managed.held.discard(self.held)

    # what the checks read -------------------------------------------------------------

    def _versions(self) -> dict[str, list[str]]:
        answer = self.world.servers.targets.client.describe_secret(SecretId=self.arn)
        return {version: sorted(stages) for version, stages in answer.get("VersionIdsToStages", {}).items()}

    def _with(self, stage: Stage) -> str | None:
        return self.world.servers.emulator.version_with(self.arn, stage)  # type: ignore[no-any-return]

    def _pending(self) -> str | None:
        return self.world.servers.emulator.stuck_pending(self.arn)  # type: ignore[no-any-return]

    def _value(self, **where: str) -> str | None:
        client = self.world.servers.targets.client
        try:
            return str(client.get_secret_value(SecretId=self.arn, **where)["SecretString"])
        except client.exceptions.ResourceNotFoundException:
            return None

    def _command(self, name: str, *args: str, stdin: str = "") -> tuple[int, dict[str, list[str]]]:
        """Run a command; (its exit status, the versions before it). A refusal (2) must change nothing."""
        self.world.stats.rules[name] += 1
        before = self._versions()
        code = self.world.command(*args, stdin=stdin)
        assert code in (0, 1, 2), f"{name}: exit status {code}"
        if code == 2 and name != "rotate":  # a refused RotateSecret makes Secrets Manager retry the earlier one
            assert self._versions() == before, f"{name} refused (exit 2) yet changed the versions"
        return code, before

    # the operator's commands ----------------------------------------------------------

    @rule()
    def rotate(self) -> None:
        self._command("rotate", "rotate", self.arn, "--quiet", "--timeout", FOLLOW_TIMEOUT)

    @rule()
    def rotate_wait(self) -> None:
        described = self.world.servers.targets.client.describe_secret(SecretId=self.arn)
        finished = described.get("LastRotatedDate")
        just_finished = finished is not None and (datetime.now(UTC) - finished).total_seconds() < 240
        idle = self._pending() is None
        code, before = self._command("rotate --wait", "rotate", self.arn, "--wait", "--quiet", "--timeout",
                                     FOLLOW_TIMEOUT)  # fmt: skip
        if just_finished and idle:
            assert code == 0, f"rotate --wait right after a rotation: exit {code}"
            assert set(self._versions()) == set(before), "rotate --wait started a second rotation"

    @rule()
    def racing_rotations(self) -> None:
        self.world.stats.rules["two rotations racing"] += 1
        codes: list[int] = []
        args = ("rotate", self.arn, "--quiet", "--timeout", FOLLOW_TIMEOUT)
        threads = [threading.Thread(target=lambda: codes.append(self.world.run_command(*args))) for _ in range(2)]
        with self.world.quiet():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert all(code in (0, 1, 2) for code in codes), codes

    @rule()
    def rollback(self) -> None:
        previous = self._with(Stage.PREVIOUS)
        code, _ = self._command("rollback", "rollback", self.arn, "--yes")
        if code == 0:
            assert self._with(Stage.CURRENT) == previous, "rollback succeeded but AWSPREVIOUS is not AWSCURRENT"

    @rule(force=st.booleans())
    def unstick(self, force: bool) -> None:
        pending = self._pending()
        code, _ = self._command("unstick --force" if force else "unstick", "unstick", self.arn, "--yes",
                                *(["--force"] if force else []))  # fmt: skip
        if pending is not None and not force:
            assert code == 2, "unstick abandoned a rotation inside Secrets Manager's retry window without --force"
        if pending is not None and force:
            assert code == 0, f"unstick --force: exit {code}"
            assert self._pending() is None, "unstick --force left AWSPENDING"

    @rule()
    def revoke_previous(self) -> None:
        self._command("revoke-previous", "revoke-previous", self.arn, "--yes")

    @precondition(lambda self: self.harness.kind == "stripe")
    @rule()
    def stage(self) -> None:
        stripe = self.world.servers.targets.stripe
        current = self._value(VersionStage=Stage.CURRENT.value)
        key = "sk_test_" + secrets.token_hex(16)
        stripe.add_key(key, stripe.account_of(current))
        code, _ = self._command("stage", "stage", self.arn, "--timeout", FOLLOW_TIMEOUT, stdin=key)
        if code == 0:
            assert self._value(VersionStage=Stage.CURRENT.value) == key, "stage succeeded but the key is not current"

    # Secrets Manager ------------------------------------------------------------------

    # Preconditions read only the model (the path, what this sequence started): a live state as precondition would
    # make Hypothesis draw differently when it replays a sequence. A rule that does not apply does nothing.

    @rule(step=st.sampled_from(list(Step)))
    def scheduled_rotation_dies_after(self, step: Step) -> None:
        if self._pending() is not None:  # Secrets Manager retries that one instead (the rule below)
            return
        self.world.stats.rules[f"function dies after {step.value}"] += 1
        self.harness.before_rotation(self.world.servers.targets, self.arn)  # Stripe: an operator staged a key
        self.world.crash_after = step
        try:
            self.world.servers.emulator.rotate(self.arn)
        finally:
            self.world.crash_after = None

    @rule()
    def secrets_manager_retries(self) -> None:
        if self._pending() is None:
            return
        self.world.stats.rules["Secrets Manager retries"] += 1
        self.world.servers.emulator.retry(self.arn)

    # the world ------------------------------------------------------------------------

    @precondition(lambda self: self.harness.kind in CONSUMER_KINDS and len(self.services) < 2)
    @rule()
    def consumer_task_launched(self) -> None:
        # Read live, so in the body: a precondition must read only the machine's own state, or a replayed
        # sequence draws differently. A single user's task launched mid-rotation holds a password setSecret may
        # already have changed: the gap the docs state, not a violation to look for.
        if self.harness.label == SINGLE_USER and self._pending() is not None:
            return
        self.world.stats.rules["consumer task launched"] += 1
        self.services.append(self.world.servers.ecs.run_service(self.arn, self.harness.label, count=1))

    @precondition(lambda self: self.harness.label == RDS_MASTER)
    @rule()
    def rds_rotates_its_master(self) -> None:
        self.world.stats.rules["RDS rotates its master"] += 1
        targets = self.world.servers.targets
        self.world.servers.rds.rotate_master(targets.client, targets.rds_master_arn)

    @precondition(lambda self: self.held is None and self.harness.path in ("ManagedUserStrategy", "AuthTokenStrategy"))
    @rule()
    def managed_resource_stays_modifying(self) -> None:
        self.world.stats.rules["managed resource stays modifying"] += 1
        self.held = _managed_resource(self._value(VersionStage=Stage.CURRENT.value) or "")
        if self.held is not None:
            self.world.servers.targets.managed.held.add(self.held)

    @precondition(lambda self: self.held is not None)
    @rule()
    def managed_resource_settles(self) -> None:
        self.world.stats.rules["managed resource settles"] += 1
        self.world.servers.targets.managed.held.discard(self.held)
        self.held = None

    # the invariant --------------------------------------------------------------------

    @invariant()
    def every_credential_in_use_logs_in(self) -> None:
        self.world.settle()
        self.world.stats.steps += 1
        for problem in self._problems():
            self.world.stats.violations.append(f"{self.harness.label}: {problem}")
            raise AssertionError(problem)

    def _problems(self) -> Iterator[str]:
        targets = self.world.servers.targets
        current = self._value(VersionStage=Stage.CURRENT.value)
        if current is None:
            yield "AWSCURRENT has no value"
            return
        if not self.harness.works(targets, current):
            pending = self._pending()
            gap = self.harness.label == SINGLE_USER and pending is not None
            value = self._value(VersionId=pending) if gap and pending else None
            if not (value is not None and self.harness.works(targets, value)):
                yield "AWSCURRENT does not log in"
        for service in self.services:
            with service.lock:
                refused = service.refused
            if refused:
                yield f"consumer {service.key} was refused {refused} time(s)"
