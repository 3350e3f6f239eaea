"""``rotation rollback``: make AWSPREVIOUS current again, unless that would lock consumers out."""

from __future__ import annotations

import argparse

from rotation_cli.aws import Aws, kind_of
from rotation_cli.kinds import kind_for
from rotation_cli.output import CommandError, confirm, say
from rotator.constants import Stage
from rotator.errors import RotationError

__all__ = ["cmd_rollback"]


def cmd_rollback(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    current, previous = description.version_with(Stage.CURRENT), description.version_with(Stage.PREVIOUS)
    if current is None or previous is None:
        raise CommandError(f"{description.name}: there is no AWSPREVIOUS version to go back to")
    kind_name = kind_of(description)
    if kind_name is not None:
        kind = kind_for(kind_name)
        now = kind.parse(aws.sm.get_value(description.arn, version_id=current).text, what="AWSCURRENT")
        before = kind.parse(aws.sm.get_value(description.arn, version_id=previous).text, what="AWSPREVIOUS")
        try:
            note = kind.rollback_note(now, before)
        except RotationError as exc:
            raise CommandError(f"{description.name}: {exc}") from exc
        if note:
            say(f"Note: {note}.")
    confirm(f"{description.name}: make {previous} AWSCURRENT again (now {current})?", args.yes)
    if Stage.PENDING in description.versions.get(current, ()):
        aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=current)
    aws.sm.move_stage(description.arn, Stage.CURRENT, to_version=previous, from_version=current)
    print(f"{description.name}: AWSCURRENT is {previous} again; {current} is AWSPREVIOUS")
    return 0
