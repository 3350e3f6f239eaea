"""``rotation``: trigger and follow rotations, stage Stripe keys, show status, recover stuck rotations.

Works against AWS with the standard credential chain (``--profile``,
``--region``) and against the local sandbox (``python -m sandbox serve``;
``--endpoint-url`` or ``AWS_ENDPOINT_URL``), through the same API calls.

Exit status: 0 done, 1 a rotation failed or was refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from rotation_cli.aws import Aws, kind_of
from rotator.constants import Stage
from rotator.errors import RotationError
from rotator.secrets_manager import SecretDescription
from rotator.staging import STAGED_LABEL

__all__ = ["main"]

# RotateSecret shares Secrets Manager's 50 TPS write quota with every other writer in the account.
_ROTATE_RATE_PER_SECOND = 10.0


class CommandError(Exception):
    """A refusal with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


# rotate ---------------------------------------------------------------------------


def follow(aws: Aws, secret_id: str, token: str, *, timeout: float, poll: float, since_ms: int, quiet: bool) -> None:
    """Poll until the token is AWSCURRENT; raise CommandError naming the failing step when it fails."""
    deadline = time.monotonic() + timeout
    reported: set[tuple[str, str]] = set()
    while True:
        description = aws.sm.describe(secret_id)
        for line in aws.rotation_log(description, token, since_ms):
            if line.get("message") not in ("rotation step done", "rotation step failed"):
                continue
            key = (str(line.get("step")), str(line.get("outcome")))
            if key in reported:
                continue
            reported.add(key)
            if line.get("outcome") == "failed":
                raise CommandError(
                    f"{description.name}: {line.get('step')} failed: {line.get('error_type')}: {line.get('error')}"
                )
            if not quiet:
                _say(f"  {description.name}: {line.get('step')} ({line.get('outcome')}, {line.get('duration_ms')} ms)")
        if Stage.CURRENT in description.versions.get(token, ()):
            return
        if time.monotonic() > deadline:
            raise CommandError(
                f"{description.name}: version {token} is still not AWSCURRENT after {timeout:.0f} s; "
                f"see the rotation function's logs, then `rotation unstick {description.name}` if it is stuck"
            )
        time.sleep(poll)


def rotate_one(aws: Aws, secret_id: str, args: argparse.Namespace, limiter: _RateLimiter | None = None) -> str:
    description = aws.sm.describe(secret_id)
    if not description.rotation_enabled:
        raise CommandError(f"{description.name}: rotation is not enabled", status=2)
    if limiter is not None:
        limiter.wait()
    since_ms = int(time.time() * 1000) - 5000
    try:
        token = aws.sm.rotate(description.arn)
    except RotationError as exc:
        stuck = description.stuck_pending
        hint = f" (AWSPENDING is stuck on {stuck}: `rotation unstick {description.name}`)" if stuck else ""
        raise CommandError(f"{description.name}: RotateSecret refused: {exc}{hint}") from exc
    if not args.quiet:
        _say(f"{description.name}: rotating to version {token}")
    follow(aws, description.arn, token, timeout=args.timeout, poll=args.poll, since_ms=since_ms, quiet=args.quiet)
    return token


def cmd_rotate(aws: Aws, args: argparse.Namespace) -> int:
    if args.all is None:
        if not args.secret_id:
            raise CommandError("rotate needs SECRET_ID or --all PREFIX", status=2)
        token = rotate_one(aws, args.secret_id, args)
        print(f"{args.secret_id}: rotated, AWSCURRENT is {token}")
        return 0
    targets = [d for d in aws.sm.list_secrets(args.all) if d.rotation_enabled]
    if not targets:
        raise CommandError(f"no secret under {args.all} has rotation enabled", status=2)
    limiter = _RateLimiter(_ROTATE_RATE_PER_SECOND)
    results: dict[str, str] = {}

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
    print(f"{len(results) - failed} rotated, {failed} failed")
    return 1 if failed else 0


# stage ----------------------------------------------------------------------------


def read_value(stream: Any) -> str:
    """The value from standard input: one trailing newline is dropped, nothing else is touched."""
    text = stream.read()
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return str(text)


def cmd_stage(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    kind = kind_of(description)
    if kind is None:
        raise CommandError(f"{description.name} has no rotation function of this suite: nothing to stage for", 2)
    from rotator.kinds import strategy_class
    from rotator.settings import Settings

    strategy = strategy_class(kind)(Settings.from_env())
    if not strategy.STAGEABLE:
        raise CommandError(f"{description.name} is a {kind} secret; its rotation generates values", 2)
    if sys.stdin is None or sys.stdin.isatty():
        _say("Paste the new value, then press Ctrl-D:")
    value = read_value(sys.stdin)
    try:
        candidate = strategy.parse(value, what="the value on standard input")
        current = strategy.parse(aws.sm.get_value(description.arn, stage=Stage.CURRENT).text, what="the current value")
        strategy.check_staged(candidate, current, description.name)  # the very check createSecret runs
    except RotationError as exc:
        raise CommandError(f"refused, nothing staged: {exc}", 2) from exc
    aws.sm.put_staged(description.arn, value, STAGED_LABEL)
    _say(f"{description.name}: staged a new {kind} value under the {STAGED_LABEL} label")
    if args.no_rotate:
        return 0
    token = rotate_one(aws, description.arn, args)
    print(f"{description.name}: rotated, AWSCURRENT is {token}")
    return 0


# status ---------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_entry(description: SecretDescription) -> dict[str, Any]:
    """One secret's status, as ``--json`` prints it."""
    rules = description.rotation_rules
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days" if rules.get("AutomaticallyAfterDays") else None
    )
    return {
        "name": description.name,
        "arn": description.arn,
        "kind": kind_of(description),
        "rotation_enabled": description.rotation_enabled,
        "schedule": schedule,
        "last_rotated": _when(description.last_rotated),
        "next_rotation": _when(description.next_rotation),
        "versions": {version: sorted(stages) for version, stages in description.versions.items() if stages},
        "stuck_pending": description.stuck_pending,
    }


def cmd_status(aws: Aws, args: argparse.Namespace) -> int:
    entries = [status_entry(d) for d in aws.sm.list_secrets(args.prefix)]
    entries.sort(key=lambda entry: entry["name"])
    if args.json:
        print(json.dumps({"secrets": entries}, indent=2))
        return 0
    from sandbox.table import print_table

    rows = []
    for entry in entries:
        versions = ", ".join(f"{vid[:8]}={'+'.join(stages)}" for vid, stages in entry["versions"].items())
        warning = f"STUCK AWSPENDING on {entry['stuck_pending'][:8]}" if entry["stuck_pending"] else ""
        rows.append(
            [
                entry["name"], entry["kind"] or "?", "on" if entry["rotation_enabled"] else "off",
                entry["schedule"] or "-", (entry["last_rotated"] or "-")[:19], (entry["next_rotation"] or "-")[:19],
                versions, warning,
            ]
        )  # fmt: skip
    headers = ["secret", "kind", "rotation", "schedule", "last rotated", "next rotation", "versions", "warning"]
    if rows:
        print_table(headers, rows)
    else:
        print("no secrets")
    return 0


# recovery -------------------------------------------------------------------------


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    _say(f"{question} Type 'yes' to continue:")
    answer = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if answer != "yes":
        raise CommandError("aborted: nothing changed", status=1)


def cmd_unstick(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    stuck = description.stuck_pending
    if stuck is None:
        print(f"{description.name}: no stuck AWSPENDING (nothing to do)")
        return 0
    current = description.version_with(Stage.CURRENT)
    _say(f"{description.name}: AWSPENDING is on {stuck}, AWSCURRENT on {current}.")
    _say("Removing the label abandons that rotation; the next RotateSecret starts a fresh one.")
    _confirm("Remove AWSPENDING from the stuck version?", args.yes)
    aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=stuck)
    print(f"{description.name}: removed AWSPENDING from {stuck}")
    return 0


def cmd_rollback(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    current, previous = description.version_with(Stage.CURRENT), description.version_with(Stage.PREVIOUS)
    if current is None or previous is None:
        raise CommandError(f"{description.name}: there is no AWSPREVIOUS version to go back to")
    kind = kind_of(description)
    if kind is not None:
        from rotator.kinds import strategy_class
        from rotator.settings import Settings

        strategy = strategy_class(kind)(Settings.from_env())
        now = strategy.parse(aws.sm.get_value(description.arn, version_id=current).text, what="AWSCURRENT")
        before = strategy.parse(aws.sm.get_value(description.arn, version_id=previous).text, what="AWSPREVIOUS")
        try:
            note = strategy.rollback_note(now, before)
        except RotationError as exc:
            raise CommandError(f"{description.name}: {exc}") from exc
        if note:
            _say(f"Note: {note}.")
    _confirm(f"{description.name}: make {previous} AWSCURRENT again (now {current})?", args.yes)
    if Stage.PENDING in description.versions.get(current, ()):
        aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=current)
    aws.sm.move_stage(description.arn, Stage.CURRENT, to_version=previous, from_version=current)
    print(f"{description.name}: AWSCURRENT is {previous} again; {current} is AWSPREVIOUS")
    return 0


# entry point ----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rotation", description=__doc__.splitlines()[0])
    top.add_argument("--profile", help="AWS profile (as the AWS CLI)")
    top.add_argument("--region", help="AWS region (as the AWS CLI)")
    top.add_argument("--endpoint-url", help="Secrets Manager endpoint (the sandbox); default: AWS_ENDPOINT_URL")
    sub = top.add_subparsers(dest="command", required=True)

    def follow_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the rotation (default 600)")
        p.add_argument("--poll", type=float, default=1.0, help="seconds between status checks")
        p.add_argument("--quiet", action="store_true", help="no progress lines")

    rotate = sub.add_parser("rotate", help="rotate now and follow to completion")
    rotate.add_argument("secret_id", nargs="?")
    rotate.add_argument("--all", metavar="PREFIX", help="every secret under PREFIX with rotation enabled")
    rotate.add_argument("--concurrency", type=int, default=5, help="rotations in flight with --all (default 5)")
    follow_options(rotate)
    stage = sub.add_parser("stage", help="validate a new value read from standard input, then rotate to it")
    stage.add_argument("secret_id")
    stage.add_argument("--no-rotate", action="store_true", help="stage only; the next rotation promotes it")
    follow_options(stage)
    status = sub.add_parser("status", help="rotation state of every secret under a prefix")
    status.add_argument("prefix", nargs="?")
    status.add_argument("--json", action="store_true")
    unstick = sub.add_parser("unstick", help="remove a stuck AWSPENDING label (after confirmation)")
    unstick.add_argument("secret_id")
    unstick.add_argument("--yes", action="store_true", help="do not ask")
    rollback = sub.add_parser("rollback", help="make AWSPREVIOUS current again (after confirmation)")
    rollback.add_argument("secret_id")
    rollback.add_argument("--yes", action="store_true", help="do not ask")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = {
        "rotate": cmd_rotate, "stage": cmd_stage, "status": cmd_status, "unstick": cmd_unstick,
        "rollback": cmd_rollback,
    }  # fmt: skip
    try:
        aws = Aws(args.profile, args.region, args.endpoint_url)
        return commands[args.command](aws, args)
    except CommandError as exc:
        _say(f"error: {exc}")
        return exc.status
    except RotationError as exc:
        _say(f"error: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
