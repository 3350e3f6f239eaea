"""``rotation``: trigger and follow rotations, stage Stripe keys, show status, follow ECS consumers, revoke.

Works against AWS with the standard credential chain (``--profile``,
``--region``) and against the local sandbox (``python -m sandbox serve``;
``--endpoint-url`` or ``AWS_ENDPOINT_URL``), through the same API calls.
Each command is one module of this package; this one parses the arguments.

Exit status, the same for every command and kind: 0 done; 1 failed (a step, a timeout, an AWS error); 2 refused
before any change (bad input, a confirmation declined, or a safety check: nothing was changed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rotation_cli.aws import Aws
from rotation_cli.consumers import cmd_consumers
from rotation_cli.output import CommandError, say
from rotation_cli.revoke import cmd_revoke_previous
from rotation_cli.rollback import cmd_rollback
from rotation_cli.rotate import cmd_rotate
from rotation_cli.stage import cmd_stage
from rotation_cli.status import cmd_status
from rotation_cli.unstick import cmd_unstick
from rotator.errors import RotationError, SecretNotFoundError, SecretsManagerError, SecretsManagerUnavailableError

__all__ = ["main", "parser"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("secret-rotation")
    except PackageNotFoundError:
        return "(not installed)"


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
        "--endpoint-url", default=default,
        help="one endpoint for every service the command calls (Secrets Manager, Lambda, CloudWatch Logs, ECS): "
        "the sandbox; default: AWS_ENDPOINT_URL",
    )  # fmt: skip


def _secret_argument(
    p: argparse.ArgumentParser, name: str = "secret_id", *, nargs: str | None = None,
    help: str = "the secret's name or ARN (e.g. amply/prod/database-url)",
) -> None:  # fmt: skip
    """A secret's name: completed in the shell from ListSecrets (``register-python-argcomplete rotation``)."""
    argument = p.add_argument(name, nargs=nargs, help=help)
    argument.completer = _complete_secret_names  # type: ignore[attr-defined]


def _complete_secret_names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """Secret names starting with what was typed, read with the command line's own profile, region and endpoint."""
    try:
        aws = Aws(parsed_args.profile, parsed_args.region, parsed_args.endpoint_url)
        return [description.name for description in aws.sm.list_secrets(prefix or None)]
    except Exception:  # a completion must never fail the shell: no names offered
        return []


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rotation", description=__doc__.splitlines()[0].replace("``", ""))
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _aws_options(top, None)
    common = argparse.ArgumentParser(add_help=False)
    _aws_options(common, argparse.SUPPRESS)  # after the command, a value overrides the one before it
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, *, dry_run: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common])
        json_help = "print the result (or the error) as one JSON object, shapes in docs/operator-guide.md"
        p.add_argument("--json", action="store_true", help=json_help)
        if dry_run:
            dry_help = "say what would happen, after the same checks; change nothing (exit 2: it would refuse)"
            p.add_argument("--dry-run", action="store_true", help=dry_help)
        return p

    def follow_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=_seconds, default=600, help="seconds to wait for the rotation (default 600)")
        p.add_argument("--poll", type=_seconds, default=1.0, help="seconds between status checks")
        p.add_argument("--quiet", action="store_true", help="no progress lines")
        p.add_argument(
            "--wait", action="store_true", help="when a rotation is unfinished, follow Secrets Manager's retry"
        )

    rotate = command("rotate", "rotate now and follow to completion", dry_run=True)
    _secret_argument(rotate, nargs="?")
    rotate.add_argument("--all", metavar="PREFIX", help="every secret under PREFIX with rotation enabled")
    rotate.add_argument("--concurrency", type=_positive, default=5, help="rotations in flight with --all (default 5)")
    follow_options(rotate)
    rotate.add_argument("--wait-consumers", action="store_true",
                        help="then follow the ECS consumers' redeployment until they run the new value")  # fmt: skip
    rotate.add_argument("--cluster", action="append", help="with --wait-consumers: search this cluster (repeatable)")
    rotate.add_argument("--yes", action="store_true", help="with --all: do not ask for confirmation on a terminal")
    stage = command("stage", "validate a new value read from standard input, then rotate to it")
    _secret_argument(stage)
    stage.add_argument("--no-rotate", action="store_true", help="stage only; the next rotation promotes it")
    follow_options(stage)
    status = command("status", "rotation state of every secret under a prefix")
    _secret_argument(status, "prefix", nargs="?", help="only secrets whose name starts with this (e.g. amply/prod/)")
    status.add_argument(
        "--check", action="store_true",
        help="exit 1 when a secret needs attention (rotation off, overdue, last attempt failed, stuck, and with "
        "--consumers a consumer task on an older value), else 0",
    )  # fmt: skip
    status.add_argument(
        "--consumers", action="store_true",
        help="also count each secret's ECS consumer tasks launched before AWSCURRENT became current (ECS calls)",
    )  # fmt: skip
    status.add_argument("--cluster", action="append", help="with --consumers: search this cluster (repeatable)")
    unstick = command(
        "unstick", "abandon a stuck rotation: remove its AWSPENDING label (after confirmation)", dry_run=True
    )
    _secret_argument(unstick)
    unstick.add_argument("--yes", action="store_true", help="do not ask")
    unstick.add_argument(
        "--force", action="store_true", help="also while its last step ran recently or Secrets Manager may retry it"
    )
    consumers = command("consumers", "ECS services that inject the secret, and their tasks still on an older value")
    _secret_argument(consumers)
    consumers.add_argument("--cluster", action="append", help="search this cluster (repeatable; default: all)")
    revoke = command(
        "revoke-previous", "make AWSPREVIOUS's credential stop working once no consumer holds it", dry_run=True
    )
    _secret_argument(revoke)
    revoke.add_argument("--yes", action="store_true", help="do not ask")
    rollback = command("rollback", "make AWSPREVIOUS current again (after confirmation)", dry_run=True)
    _secret_argument(rollback)
    rollback.add_argument("--yes", action="store_true", help="do not ask")
    return top


# Ctrl-C: 128 + SIGINT, as shells report it (0 done, 1 failed, 2 refused before any change).
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (argcomplete); exits after answering
        import argcomplete

        argcomplete.autocomplete(arguments)
    args = arguments.parse_args(argv)
    if args.command == "rotate" and (args.secret_id is None) == (args.all is None):
        which = "not both" if args.secret_id is not None else "one of them"
        arguments.error(f"rotate needs SECRET_ID or --all PREFIX, {which}")  # exit 2, before any call
    commands: dict[str, Callable[[Aws, argparse.Namespace], int]] = {
        "rotate": cmd_rotate, "stage": cmd_stage, "status": cmd_status, "unstick": cmd_unstick,
        "rollback": cmd_rollback, "consumers": cmd_consumers, "revoke-previous": cmd_revoke_previous,
    }  # fmt: skip
    aws: Aws | None = None
    try:
        aws = Aws(args.profile, args.region, args.endpoint_url)
        return commands[args.command](aws, args)
    except KeyboardInterrupt:
        message, status = _interrupted(getattr(args, "secret_id", None) or getattr(args, "all", None)), INTERRUPTED
    except Exception as exc:  # every failure ends as one line (and with --json one object), never a traceback
        message, status = _failure(exc, aws)
    say(message if status == INTERRUPTED else f"error: {message}")
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "exit_status": status}, indent=2))
    return status


def _failure(exc: Exception, aws: Aws | None) -> tuple[str, int]:
    """What went wrong, for the operator, and the exit status (2: refused before any change)."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError, ProfileNotFound

    if isinstance(exc, CommandError):
        return str(exc), exc.status
    if isinstance(exc, SecretNotFoundError):
        return f"no such secret: {exc.secret_id} ({exc.code}) in {aws.where if aws else 'this region'}", 2
    if isinstance(exc, SecretsManagerError):
        return _aws_failure(exc, aws)
    if isinstance(exc, RotationError):
        return f"{type(exc).__name__}: {exc}", 2 if exc.changes_nothing else 1
    if isinstance(exc, ProfileNotFound | NoRegionError | NoCredentialsError):
        return f"{exc} (set --region/--profile, or AWS_REGION/AWS_PROFILE)", 2
    if isinstance(exc, BotoCoreError):
        return f"{type(exc).__name__}: {exc}", 1
    raise exc


_NO_CREDENTIALS = "NoCredentialsError"


def _aws_failure(exc: SecretsManagerError, aws: Aws | None) -> tuple[str, int]:
    """A Secrets Manager call that failed, with what the operator needs: where, and what to set (no credentials:
    refused before any change, 2; an unreachable endpoint or another error: 1)."""
    where = aws.where if aws else "this region"
    if exc.code == _NO_CREDENTIALS:
        return f"no AWS credentials for {where}: pass --profile NAME (or set AWS_PROFILE), or run `aws sso login`", 2
    if isinstance(exc, SecretsManagerUnavailableError):
        return f"cannot reach Secrets Manager at {where} ({exc.code}): check --endpoint-url, the network", 1
    return f"{type(exc).__name__}: {exc} ({where})", 2 if exc.changes_nothing else 1


def _interrupted(secret: str | None) -> str:
    """What Ctrl-C stopped (only this command's following) and what it did not (anything AWS already runs)."""
    which = secret or "SECRET_ID"
    return (
        "interrupted: only this command stopped. A rotation it started carries on in Secrets Manager (its steps "
        f"are retried there); see where it is with `rotation status {which}`, and wait for its consumers with "
        f"`rotation consumers {which}`"
    )


if __name__ == "__main__":
    sys.exit(main())
