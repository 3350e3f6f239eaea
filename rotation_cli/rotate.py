"""``rotation rotate``: rotate now (one secret, or every secret under a prefix) and follow to completion."""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rotation_cli.aws import Aws, LogsUnavailable
from rotation_cli.kinds import stageable
from rotation_cli.output import CommandError, say
from rotation_cli.times import short_time, when
from rotator.aws.secrets_manager import SecretDescription
from rotator.constants import Stage
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

    def __init__(self, aws: Aws, description: SecretDescription, token: str, since_ms: int, quiet: bool) -> None:
        self.aws, self.description, self.token, self.since_ms, self.quiet = aws, description, token, since_ms, quiet
        self.reported: set[tuple[str, str]] = set()
        self.readable = True

    def read(self) -> None:
        if not self.readable:
            return
        name = self.description.name
        try:
            lines = self.aws.rotation_log(self.description, self.token, self.since_ms)
        except LogsUnavailable as exc:
            self.readable = False
            say(f"  {name}: {exc}; following Secrets Manager's state only (failures show as timeouts)")
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
                say(f"  {name}: {line.get('step')} ({line.get('outcome')}, {line.get('duration_ms')} ms)")


def follow(aws: Aws, secret_id: str, token: str, *, timeout: float, poll: float, since_ms: int, quiet: bool) -> None:
    """Poll until the token is AWSCURRENT (Secrets Manager's own state decides); the function's log lines add the
    steps' progress and, when a step failed, its error. Raises CommandError for a failure or a timeout."""
    deadline = time.monotonic() + timeout
    reporter: _StepReporter | None = None
    while True:
        description = aws.sm.describe(secret_id)
        reporter = reporter or _StepReporter(aws, description, token, since_ms, quiet)
        stages = description.versions.get(token, ())
        if Stage.CURRENT in stages:
            if not quiet:
                reporter.read()  # the steps logged since the last poll
            return
        if Stage.PENDING not in stages:  # the label moved away (unstick, a newer rotation): this one is over
            raise CommandError(f"{description.name}: rotation to {token} was abandoned (AWSPENDING is not on it)")
        reporter.read()
        if time.monotonic() > deadline:
            pending = aws.pending_rotation(description)
            state = f" ({pending.describe()})" if pending is not None else ""
            raise CommandError(
                f"{description.name}: version {token} is still not AWSCURRENT after {timeout:g} s{state}. Follow it "
                f"again with `rotation rotate {description.name} --wait`; `rotation status {description.name}` "
                "says when it counts as stuck"
            )
        time.sleep(poll)


def rotate_one(aws: Aws, secret_id: str, args: argparse.Namespace, limiter: _RateLimiter | None = None) -> str:
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
    if unfinished is not None:
        say(
            f"{description.name}: a rotation to {unfinished} is unfinished and Secrets Manager retries it; following it"
        )
        since_ms = int(time.time() * 1000)  # the earlier attempts' lines (their failures) are not this retry's
    elif not args.quiet:
        say(f"{description.name}: rotating to version {token}")
    follow(aws, description.arn, token, timeout=args.timeout, poll=args.poll, since_ms=since_ms, quiet=args.quiet)
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
        token = rotate_one(aws, args.secret_id, args)
        print(f"{args.secret_id}: rotated, AWSCURRENT is {token}")
        if args.wait_consumers:
            from rotation_cli.consumers import wait_consumers

            wait_consumers(aws, args.secret_id, args.cluster, timeout=args.timeout, poll=args.poll, quiet=args.quiet)
        return 0
    found = [d for d in aws.sm.list_secrets(args.all) if d.rotation_enabled]
    if not found:
        raise CommandError(f"no secret under {args.all} has rotation enabled ({aws.where})", status=2)
    skipped = [d for d in found if _waiting_for_a_staged_value(d)]
    targets = [d for d in found if d not in skipped]
    limiter = _RateLimiter(_ROTATE_RATE_PER_SECOND)
    results: dict[str, str] = {d.name: f"skipped: needs a staged value (`rotation stage {d.name}`)" for d in skipped}

    def run(description: SecretDescription) -> None:
        try:
            results[description.name] = "rotated to " + rotate_one(aws, description.arn, args, limiter)
        except (CommandError, RotationError) as exc:
            results[description.name] = f"FAILED: {exc}"

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(run, targets))
    for name in sorted(results):
        print(f"{name}: {results[name]}")
    failed = sum(1 for outcome in results.values() if outcome.startswith("FAILED"))
    print(f"{len(targets) - failed} rotated, {failed} failed, {len(skipped)} skipped")
    return 1 if failed else 0
