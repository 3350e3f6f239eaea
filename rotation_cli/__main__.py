"""``rotation``: trigger and follow rotations, stage Stripe keys, show status, follow ECS consumers, revoke.

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
from datetime import UTC, datetime
from typing import Any

from rotation_cli.aws import Aws, LogsUnavailable, kind_of
from rotator.constants import Action, Stage
from rotator.errors import RotationError, SecretNotFoundError, SecretsManagerError, TargetUnreachableError
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
            _say(f"  {name}: {exc}; following Secrets Manager's state only (failures show as timeouts)")
            return
        for line in lines:
            key = (str(line.get("step")), str(line.get("outcome")))
            if line.get("message") not in ("rotation step done", "rotation step failed") or key in self.reported:
                continue
            self.reported.add(key)
            if line.get("outcome") == "failed":
                raise CommandError(
                    f"{name}: {line.get('step')} failed: {line.get('error_type')}: {line.get('error')}"
                    "; Secrets Manager will retry it"
                )
            if not self.quiet:
                _say(f"  {name}: {line.get('step')} ({line.get('outcome')}, {line.get('duration_ms')} ms)")


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
        if stuck is None:
            raise CommandError(f"{description.name}: RotateSecret refused: {exc}") from exc
        # Secrets Manager answers "A previous rotation isn't complete. That rotation will be reattempted."
        retrying = f"{description.name}: a rotation to {stuck} is unfinished and Secrets Manager is retrying it"
        if not getattr(args, "wait", False):
            raise CommandError(
                f"{retrying}; follow it with `rotation rotate {description.name} --wait`, or abandon it with "
                f"`rotation unstick {description.name}`"
            ) from exc
        _say(f"{retrying}; following it")
        token = stuck
        since_ms = int(time.time() * 1000)  # the earlier attempts' lines (their failures) are not this retry's
    if not args.quiet:
        _say(f"{description.name}: rotating to version {token}")
    follow(aws, description.arn, token, timeout=args.timeout, poll=args.poll, since_ms=since_ms, quiet=args.quiet)
    return token


def _waiting_for_a_staged_value(description: SecretDescription) -> bool:
    """A secret whose kind needs an operator-staged value and has none staged (``rotate --all`` skips it)."""
    kind = kind_of(description)
    if kind is None or description.version_with(STAGED_LABEL) is not None:
        return False
    from rotator.kinds import strategy_class
    from rotator.settings import Settings

    strategy_type = strategy_class(kind)
    return strategy_type.STAGEABLE and strategy_type(Settings.from_env()).needs_staged_value(description)


def cmd_rotate(aws: Aws, args: argparse.Namespace) -> int:
    if args.all is None:
        token = rotate_one(aws, args.secret_id, args)
        print(f"{args.secret_id}: rotated, AWSCURRENT is {token}")
        if args.wait_consumers:
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
    if not description.rotation_enabled or kind is None:
        raise CommandError(f"{description.name} has no rotation by this suite configured: nothing to stage for", 2)
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
    except (TargetUnreachableError, SecretsManagerError) as exc:  # not the value's fault: a failure, not bad input
        raise CommandError(f"could not check the value, nothing staged: {exc}", 1) from exc
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
    return value.astimezone(UTC).isoformat() if value else None


def _short_time(value: str | None) -> str:
    """``2026-11-23 16:50 UTC`` from an ISO-8601 UTC timestamp."""
    return f"{value[:10]} {value[11:16]} UTC" if value else "-"


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
        rotation = (entry["schedule"] or "on demand") if entry["rotation_enabled"] else "off"
        rows.append(
            [
                entry["name"], entry["kind"] or "?", rotation, _short_time(entry["last_rotated"]),
                _short_time(entry["next_rotation"]), versions, warning,
            ]
        )  # fmt: skip
    headers = ["secret", "kind", "rotation", "last rotated", "next rotation", "versions", "warning"]
    if rows:
        print_table(headers, rows)
    else:
        print(f"no secrets{f' under {args.prefix}' if args.prefix else ''} in {aws.where}")
    return 0


# consumers ------------------------------------------------------------------------


def consumers_report(aws: Aws, secret_id: str, clusters: Sequence[str] | None) -> dict[str, Any]:
    """The secret's ECS consumers, each running task's start against when AWSCURRENT became current."""
    from rotator.consumers import find_consumers, running_tasks

    description = aws.sm.describe(secret_id)
    since = aws.sm.current_since(description)
    search = find_consumers(aws.ecs, clusters or aws.clusters(), description.arn, description.name, description.tags)
    consumers = []
    for consumer in search.consumers:
        tasks = running_tasks(aws.ecs, consumer)
        consumers.append(
            {
                "cluster": consumer.cluster, "service": consumer.service, "declared_by_tag": consumer.declared,
                "task_definitions": list(consumer.task_definitions),
                "tasks": [
                    {"task": task.arn, "launched_at": _when(task.launched_at),
                     "stale": since is not None and task.launched_before(since)}
                    for task in tasks
                ],
            }
        )  # fmt: skip
    return {"secret": description.name, "current_since": _when(since), "consumers": consumers,
            "unsearched_clusters": search.unsearched}  # fmt: skip


def wait_consumers(
    aws: Aws, secret_id: str, clusters: Sequence[str] | None, *, timeout: float, poll: float, quiet: bool
) -> None:
    """Follow the consumers' redeployment until each runs only tasks launched after AWSCURRENT became current
    and its rollout completed; CommandError for a rolled-back deployment, a cluster not searched, or a timeout."""
    from rotator.consumers import describe, find_consumers, stale_tasks

    deadline = time.monotonic() + timeout
    searched = clusters or aws.clusters()
    while True:
        description = aws.sm.describe(secret_id)
        since = aws.sm.current_since(description)
        search = find_consumers(aws.ecs, searched, description.arn, description.name, description.tags)
        if search.unsearched:
            failed = ", ".join(f"{cluster} ({code})" for cluster, code in search.unsearched.items())
            raise CommandError(f"{description.name}: cannot follow consumers in {failed}")
        waiting: dict[str, str] = {}
        for found in search.consumers:
            consumer = describe(aws.ecs, found)
            if consumer.rollout == "FAILED":
                raise CommandError(
                    f"{description.name}: the deployment of {consumer.key} failed and was rolled back; its tasks keep "
                    "the old value. Fix the service, redeploy it, then `rotation consumers` to check"
                )
            stale = stale_tasks(aws.ecs, consumer, since) if since is not None else []
            if stale or consumer.rollout == "IN_PROGRESS":
                never = since is not None and (consumer.deployed_at is None or consumer.deployed_at < since)
                waiting[consumer.key] = f"{len(stale)} tasks on an older value" + (
                    " and no deployment since the rotation (is the RotationSucceeded rule receiving events?)"
                    if never
                    else f", rollout {consumer.rollout or 'unknown'}"
                )
        if not waiting:
            print(f"{description.name}: {len(search.consumers)} consumer services run the current value")
            return
        if not quiet:
            _say(f"{description.name}: waiting for " + "; ".join(f"{k}: {v}" for k, v in sorted(waiting.items())))
        if time.monotonic() > deadline:
            raise CommandError(
                f"{description.name}: consumers not on the current value after {timeout:.0f} s: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(waiting.items()))
            )
        time.sleep(poll)


def cmd_revoke_previous(aws: Aws, args: argparse.Namespace) -> int:
    """The runbook's last step: the rotation function makes AWSPREVIOUS's credential stop working, once no
    consumer task can hold it (it checks, and refuses otherwise)."""
    description = aws.sm.describe(args.secret_id)
    token = description.version_with(Stage.CURRENT)
    if description.rotation_lambda_arn is None or token is None:
        raise CommandError(f"{description.name}: no rotation function or no AWSCURRENT version", status=2)
    _confirm(f"{description.name}: make the AWSPREVIOUS credential stop working?", args.yes)
    event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": description.arn, "ClientRequestToken": token}
    response = aws.lambda_.invoke(FunctionName=description.rotation_lambda_arn, Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        error = answer if isinstance(answer, dict) else {}
        raise CommandError(f"{description.name}: {error.get('errorType', 'error')}: {error.get('errorMessage', '')}")
    outcome = answer.get("outcome") if isinstance(answer, dict) else None
    print(f"{description.name}: {outcome or 'done'}")
    return 0


def cmd_consumers(aws: Aws, args: argparse.Namespace) -> int:
    report = consumers_report(aws, args.secret_id, args.cluster)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from sandbox.table import print_table

    for cluster, code in report["unsearched_clusters"].items():
        _say(f"warning: cluster {cluster} not searched ({code})")
    if not report["consumers"]:
        print(f"{report['secret']}: no ECS service injects it in {aws.where}")
        return 0
    print(f"{report['secret']}: AWSCURRENT current since {_short_time(report['current_since'])}")
    rows = []
    for consumer in report["consumers"]:
        stale = [task for task in consumer["tasks"] if task["stale"]]
        rows.append(
            [
                f"{consumer['cluster'].rsplit('/', 1)[-1]}/{consumer['service']}",
                "tag" if consumer["declared_by_tag"] else "valueFrom", str(len(consumer["tasks"])),
                str(len(stale)), ", ".join(task["task"].rsplit("/", 1)[-1][:12] for task in stale) or "-",
            ]
        )  # fmt: skip
    print_table(["service", "found by", "running", "stale", "stale tasks"], rows)
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _aws_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """--profile, --region and --endpoint-url, before or after the command, as the AWS CLI accepts them."""
    parser.add_argument("--profile", default=default, help="AWS profile (as the AWS CLI)")
    parser.add_argument("--region", default=default, help="AWS region (as the AWS CLI)")
    parser.add_argument(
        "--endpoint-url", default=default, help="Secrets Manager endpoint (the sandbox); default: AWS_ENDPOINT_URL"
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rotation", description=__doc__.splitlines()[0].replace("``", ""))
    _aws_options(top, None)
    common = argparse.ArgumentParser(add_help=False)
    _aws_options(common, argparse.SUPPRESS)  # after the command, a value overrides the one before it
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common])

    def follow_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=_seconds, default=600, help="seconds to wait for the rotation (default 600)")
        p.add_argument("--poll", type=_seconds, default=1.0, help="seconds between status checks")
        p.add_argument("--quiet", action="store_true", help="no progress lines")
        p.add_argument(
            "--wait", action="store_true", help="when a rotation is unfinished, follow Secrets Manager's retry"
        )

    rotate = command("rotate", "rotate now and follow to completion")
    rotate.add_argument("secret_id", nargs="?")
    rotate.add_argument("--all", metavar="PREFIX", help="every secret under PREFIX with rotation enabled")
    rotate.add_argument("--concurrency", type=_positive, default=5, help="rotations in flight with --all (default 5)")
    follow_options(rotate)
    rotate.add_argument("--wait-consumers", action="store_true",
                        help="then follow the ECS consumers' redeployment until they run the new value")  # fmt: skip
    rotate.add_argument("--cluster", action="append", help="with --wait-consumers: search this cluster (repeatable)")
    stage = command("stage", "validate a new value read from standard input, then rotate to it")
    stage.add_argument("secret_id")
    stage.add_argument("--no-rotate", action="store_true", help="stage only; the next rotation promotes it")
    follow_options(stage)
    status = command("status", "rotation state of every secret under a prefix")
    status.add_argument("prefix", nargs="?")
    status.add_argument("--json", action="store_true")
    unstick = command("unstick", "remove a stuck AWSPENDING label (after confirmation)")
    unstick.add_argument("secret_id")
    unstick.add_argument("--yes", action="store_true", help="do not ask")
    consumers = command("consumers", "ECS services that inject the secret, and their tasks still on an older value")
    consumers.add_argument("secret_id")
    consumers.add_argument("--cluster", action="append", help="search this cluster (repeatable; default: all)")
    consumers.add_argument("--json", action="store_true")
    revoke = command("revoke-previous", "make AWSPREVIOUS's credential stop working once no consumer holds it")
    revoke.add_argument("secret_id")
    revoke.add_argument("--yes", action="store_true", help="do not ask")
    rollback = command("rollback", "make AWSPREVIOUS current again (after confirmation)")
    rollback.add_argument("secret_id")
    rollback.add_argument("--yes", action="store_true", help="do not ask")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.command == "rotate" and (args.secret_id is None) == (args.all is None):
        arguments.error("rotate needs SECRET_ID or --all PREFIX, not both")  # exit 2, before any call
    commands = {
        "rotate": cmd_rotate, "stage": cmd_stage, "status": cmd_status, "unstick": cmd_unstick,
        "rollback": cmd_rollback, "consumers": cmd_consumers, "revoke-previous": cmd_revoke_previous,
    }  # fmt: skip
    from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError, ProfileNotFound

    try:
        aws = Aws(args.profile, args.region, args.endpoint_url)
        return commands[args.command](aws, args)
    except CommandError as exc:
        _say(f"error: {exc}")
        return exc.status
    except SecretNotFoundError as exc:
        _say(f"error: no such secret: {exc.secret_id} ({exc.code})")
        return 2
    except RotationError as exc:
        _say(f"error: {type(exc).__name__}: {exc}")
        return 1
    except (ProfileNotFound, NoRegionError, NoCredentialsError) as exc:
        _say(f"error: {exc} (set --region/--profile, or AWS_REGION/AWS_PROFILE)")
        return 2
    except BotoCoreError as exc:
        _say(f"error: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
