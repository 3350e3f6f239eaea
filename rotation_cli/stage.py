"""``rotation stage``: validate a value read from standard input, stage it, then rotate to it (Stripe keys)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rotation_cli.aws import Aws, kind_of
from rotation_cli.kinds import kind_for, stageable
from rotation_cli.output import CommandError, result, say
from rotation_cli.rotate import rotate_one
from rotator.aws.secrets_manager import check_size
from rotator.constants import Stage
from rotator.core.staging import STAGED_LABEL
from rotator.errors import RotationError, SecretsManagerError, TargetUnreachableError

__all__ = ["cmd_stage", "read_value"]


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
    kind_name = kind_of(description)
    if not description.rotation_enabled or kind_name is None:
        raise CommandError(f"{description.name} has no rotation by this suite configured: nothing to stage for", 2)
    kind = stageable(description)
    if kind is None:
        raise CommandError(f"{description.name} is a {kind_name} secret; its rotation generates values", 2)
    if sys.stdin is None or sys.stdin.isatty():
        say("Paste the new value, then press Ctrl-D:")
    value = read_value(sys.stdin)
    try:
        check_size(value, what="the value on standard input")  # before any check that costs a call
        parse = kind_for(kind_name).parse
        candidate = parse(value, what="the value on standard input")
        current = parse(aws.sm.get_value(description.arn, stage=Stage.CURRENT).text, what="the current value")
        kind.check_staged(candidate, current, description.name)  # the very check createSecret runs
    except (TargetUnreachableError, SecretsManagerError) as exc:  # not the value's fault: a failure, not bad input
        raise CommandError(f"could not check the value, nothing staged: {exc}", 1) from exc
    except RotationError as exc:
        raise CommandError(f"refused, nothing staged: {exc}", 2) from exc
    staged = aws.sm.put_staged(description.arn, value, STAGED_LABEL)
    say(f"{description.name}: staged a new {kind_name} value under the {STAGED_LABEL} label")
    if args.no_rotate:
        result(args, f"{description.name}: staged; the next rotation promotes it", secret=description.name,
               outcome="staged", staged_version=staged)  # fmt: skip
        return 0
    unfinished = aws.sm.describe(description.arn).stuck_pending
    if unfinished is not None:
        # An earlier rotation (one that found nothing staged, say) is retried by Secrets Manager and takes the
        # staged value at its createSecret: follow it rather than report its RotateSecret refusal as a failure.
        rotate_one(aws, description.arn, argparse.Namespace(**{**vars(args), "wait": True}))
        if STAGED_LABEL not in aws.sm.describe(description.arn).versions.get(staged, ()):
            result(args, f"{description.name}: rotated, AWSCURRENT holds the staged value", secret=description.name,
                   outcome="rotated", current_version=staged)  # fmt: skip
            return 0
        say(f"{description.name}: the unfinished rotation promoted an earlier value; now rotating to the staged one")
    token = rotate_one(aws, description.arn, argparse.Namespace(**{**vars(args), "wait": False}))
    result(args, f"{description.name}: rotated, AWSCURRENT is {token}", secret=description.name, outcome="rotated",
           current_version=token)  # fmt: skip
    return 0
