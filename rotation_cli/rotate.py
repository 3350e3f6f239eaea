"""``rotation rotate``: rotate now (one secret, or every secret under a prefix) and follow to completion."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rotation_cli.aws import Aws, LogsUnavailable
from rotation_cli.kinds import stageable
from rotation_cli.output import CommandError, confirm, result, say
from rotation_cli.progress import Progress
from rotation_cli.times import short_time, when
from rotator.aws.secrets_manager import SecretDescription
from rotator.constants import Stage, Step
from rotator.core.boundary import STEP_DONE, STEP_FAILED
from rotator.core.staging import STAGED_LABEL
from rotator.errors import RotationError

__all__ = ["JUST_FINISHED", "cmd_rotate", "follow", "rotate_one"]

# ``rotate --wait`` reports a rotation that finished this recently instead of starting another one.
JUST_FINISHED = timedelta(minutes=5)
# RotateSecret shares Secrets Manager's 50 TPS write quota with every other writer in the account.
_ROTATE_RATE_PER_SECOND = 10.0


class _RateLimiter:
    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = max(0.0, self._next - now)
            self._next = max(now, self._next) + self._interval
        time.sleep(delay)


class _StepReporter:
    """Reads the rotation function's log lines about one token: prints each finished step once, raises for a
    failed one, and says once (then stays silent) when the logs cannot be read."""

    def __init__(
        self, aws: Aws, description: SecretDescription, token: str, since_ms: int, quiet: bool, progress: Progress
    ) -> None:
        self.aws, self.description, self.token, self.since_ms, self.quiet = aws, description, token, since_ms, quiet
        self.progress = progress
        self.reported: set[tuple[str, str]] = set()
        self.readable = True

    def waiting_for(self) -> str:
        """The first step not yet logged as done (what the rotation is waiting for)."""
        done = {step for step, outcome in self.reported if outcome != "failed"}
        return next((step.value for step in Step if step.value not in done), "the promotion")

    def read(self) -> None:
        if not self.readable:
            return
        name = self.description.name
        try:
            lines = self.aws.rotation_log(self.description, self.token, self.since_ms)
        except LogsUnavailable as exc:
            self.readable = False
            self.progress.line(f"  {name}: {exc}; following Secrets Manager's state only (failures show as timeouts)")
            return
        for line in lines:
            key = (str(line.get("step")), str(line.get("outcome")))
            if line.get("message") not in (STEP_DONE, STEP_FAILED) or key in self.reported:
                continue
            self.reported.add(key)
            if line.get("outcome") == "failed":
                raise CommandError(
                    f"{name}: {line.get('step')} failed: {line.get('error_type')}: {line.get('error')}"
                    "; Secrets Manager will retry it"
                )
            if not self.quiet:
                self.progress.line(
                    f"  {name}: {line.get('step')} ({line.get('outcome')}, {line.get('duration_ms')} ms)"
                )


def follow(
    aws: Aws, secret_id: str, token: str, *, timeout: float, poll: float, since_ms: int, quiet: bool,
    progress: Progress | None = None,
) -> None:  # fmt: skip
    """Poll until the token is AWSCURRENT (Secrets Manager's own state decides); the function's log lines add the
    steps' progress and, when a step failed, its error; a live line says which step it waits for, and for how long
    (with ``progress`` given, as in ``--all``, only its ``N/M`` line). Raises CommandError for a failure or a
    timeout."""
    if progress is None:
        with Progress(quiet=quiet) as own:
            follow(aws, secret_id, token, timeout=timeout, poll=poll, since_ms=since_ms, quiet=quiet, progress=own)
            own.status("")
        return
    heartbeat = progress.total is None
    started = time.monotonic()
    deadline = started + timeout
    reporter: _StepReporter | None = None
    while True:
        description = aws.sm.describe(secret_id)
        reporter = reporter or _StepReporter(aws, description, token, since_ms, quiet, progress)
        stages = description.versions.get(token, ())
        if Stage.CURRENT in stages:
            if not quiet:
                reporter.read()  # the steps logged since the last poll
            return
        if Stage.PENDING not in stages:  # the label moved away (unstick, a newer rotation): this one is over
            raise CommandError(f"{description.name}: rotation to {token} was abandoned (AWSPENDING is not on it)")
        reporter.read()
        if heartbeat:
            waiting = f"{description.name}: waiting for {reporter.waiting_for()}"
            progress.status(f"{waiting} ({time.monotonic() - started:.0f} s)", key=waiting)
        if time.monotonic() > deadline:
            pending = aws.pending_rotation(description)
            state = f" ({pending.describe()})" if pending is not None else ""
            raise CommandError(
                f"{description.name}: version {token} is still not AWSCURRENT after {timeout:g} s{state}. Follow it "
                f"again with `rotation rotate {description.name} --wait`; `rotation status {description.name}` "
                "says when it counts as stuck"
            )
        time.sleep(poll)


def rotate_one(
    aws: Aws, secret_id: str, args: argparse.Namespace, limiter: _RateLimiter | None = None,
    progress: Progress | None = None,
) -> str:  # fmt: skip
    """Rotate now and follow to completion; returns the version that became AWSCURRENT.

    With ``--wait`` an unfinished rotation is followed instead, and RotateSecret carries that rotation's own
    token: if it finished meanwhile, Secrets Manager can only re-drive a version that is already AWSCURRENT (every
    step a no-op), never start a second rotation (for an AUTH token, that would drop the oldest token). A rotation
    that finished within ``JUST_FINISHED`` is reported, not repeated.
    """
    description = aws.sm.describe(secret_id)
    if not description.rotation_enabled:
        raise CommandError(f"{description.name}: rotation is not enabled", status=2)
    wait = getattr(args, "wait", False)
    unfinished = description.stuck_pending if wait else None
    if wait and unfinished is None and _just_finished(description):
        current = description.version_with(Stage.CURRENT) or "?"
        say(
            f"{description.name}: a rotation finished at {short_time(when(description.last_rotated))}; --wait does "
            f"not start another within {JUST_FINISHED.seconds // 60} minutes (run without --wait to rotate again)"
        )
        return current
    if limiter is not None:
        limiter.wait()
    since_ms = int(time.time() * 1000) - 5000
    try:
        token = aws.sm.rotate(description.arn, token=unfinished)
    except RotationError as exc:
        stuck = aws.sm.describe(description.arn).stuck_pending
        if stuck is None:
            raise CommandError(f"{description.name}: RotateSecret refused: {exc}") from exc
        # Secrets Manager answers "A previous rotation isn't complete. That rotation will be reattempted."
        retrying = f"{description.name}: a rotation to {stuck} is unfinished and Secrets Manager is retrying it"
        if not wait:
            raise CommandError(
                f"{retrying}; follow it with `rotation rotate {description.name} --wait`, or see whether it is "
                f"stuck with `rotation status {description.name}`. Nothing changed",
                status=2,
            ) from exc
        unfinished = token = stuck
    tell = progress.line if progress is not None else say
    if unfinished is not None:
        tell(
            f"{description.name}: a rotation to {unfinished} is unfinished and Secrets Manager retries it; following it"
        )
        since_ms = int(time.time() * 1000)  # the earlier attempts' lines (their failures) are not this retry's
    elif not args.quiet:
        tell(f"{description.name}: rotating to version {token}")
    follow(aws, description.arn, token, timeout=args.timeout, poll=args.poll, since_ms=since_ms, quiet=args.quiet,
           progress=progress)  # fmt: skip
    return token


def _just_finished(description: SecretDescription) -> bool:
    finished = description.last_rotated
    return finished is not None and datetime.now(UTC) - finished < JUST_FINISHED


def _waiting_for_a_staged_value(description: SecretDescription) -> bool:
    """A secret whose kind needs an operator-staged value and has none staged (``rotate --all`` skips it)."""
    if description.version_with(STAGED_LABEL) is not None:
        return False
    kind = stageable(description)
    return kind is not None and kind.needs_staged_value(description)


def cmd_rotate(aws: Aws, args: argparse.Namespace) -> int:
    if args.all is None:
        if args.wait_consumers:
            aws.clusters(args.cluster)  # a mistyped --cluster is refused before the rotation, not after it
        if args.dry_run:
            return _dry_run(args, [aws.sm.describe(args.secret_id)])
        token = rotate_one(aws, args.secret_id, args)
        line, running = f"{args.secret_id}: rotated, AWSCURRENT is {token}", None
        if args.wait_consumers:
            from rotation_cli.consumers import wait_consumers

            say(f"{line}; following its consumers")
            running = wait_consumers(
                aws, args.secret_id, args.cluster, timeout=args.timeout, poll=args.poll, quiet=args.quiet
            )
            line += f"; {running} consumer services run the current value"
        result(args, line, secret=args.secret_id, outcome="rotated", current_version=token,
               consumer_services_current=running)  # fmt: skip
        return 0
    found = [d for d in aws.sm.list_secrets(args.all) if d.rotation_enabled]
    if not found:
        raise CommandError(f"no secret under {args.all} has rotation enabled ({aws.where})", status=2)
    if args.dry_run:
        return _dry_run(args, found)
    skipped = [d for d in found if _waiting_for_a_staged_value(d)]
    targets = [d for d in found if d not in skipped]
    if sys.stdin is not None and sys.stdin.isatty():  # an operator at a terminal confirms; a script passes --yes
        confirm(f"Rotate {len(targets)} secrets under {args.all} now ({len(skipped)} skipped)?", args.yes)
    limiter = _RateLimiter(_ROTATE_RATE_PER_SECOND)
    results: dict[str, str] = {d.name: f"skipped: needs a staged value (`rotation stage {d.name}`)" for d in skipped}

    def run(description: SecretDescription, progress: Progress) -> None:
        try:
            results[description.name] = "rotated to " + rotate_one(aws, description.arn, args, limiter, progress)
        except (CommandError, RotationError) as exc:
            results[description.name] = f"FAILED: {exc}"
        progress.advance()

    with Progress(quiet=args.quiet, total=len(targets)) as progress, ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda description: run(description, progress), targets))
    failed = sum(1 for outcome in results.values() if outcome.startswith("FAILED"))
    lines = [f"{name}: {results[name]}" for name in sorted(results)]
    lines.append(f"{len(targets) - failed} rotated, {failed} failed, {len(skipped)} skipped")
    result(args, "\n".join(lines), prefix=args.all, outcomes=dict(sorted(results.items())),
           rotated=len(targets) - failed, failed=failed, skipped=len(skipped))  # fmt: skip
    return 1 if failed else 0


def _dry_run(args: argparse.Namespace, descriptions: list[SecretDescription]) -> int:
    """What ``rotate`` would do for each secret, after the checks it makes first; nothing is called that changes
    state. Exit 2 when a single secret's rotation would be refused."""
    plans = {description.name: _plan(description, args) for description in descriptions}
    refused = args.all is None and any(plan.startswith("be refused") for plan in plans.values())
    lines = [f"{name}: dry run: would {plan}" for name, plan in plans.items()] + ["nothing changed"]
    result(args, "\n".join(lines), dry_run=True, plans=plans)
    return 2 if refused else 0


def _plan(description: SecretDescription, args: argparse.Namespace) -> str:
    if not description.rotation_enabled:
        return "be refused: rotation is not enabled"
    unfinished = description.stuck_pending
    if unfinished is not None:
        if args.wait:
            return f"follow the unfinished rotation to {unfinished} (RotateSecret with its own token)"
        return f"be refused: a rotation to {unfinished} is unfinished (follow it with --wait)"
    if args.wait and _just_finished(description):
        return f"report the rotation that finished at {short_time(description.last_rotated)} and start none"
    if args.all is not None and _waiting_for_a_staged_value(description):
        return f"be skipped: it needs a staged value (`rotation stage {description.name}`)"
    then = ", then follow its ECS consumers' redeployment" if args.wait_consumers else ""
    return f"rotate now: RotateSecret, then follow it until the new version is AWSCURRENT{then}"
