"""``rotation rollback``: make AWSPREVIOUS current again, unless that would lock consumers out."""

from __future__ import annotations

import argparse
from typing import Any

from rotation_cli.aws import Aws, kind_of
from rotation_cli.kinds import kind_for
from rotation_cli.output import CommandError, confirm, result, say
from rotator.constants import Action, Stage
from rotator.errors import RotationError

__all__ = ["cmd_rollback"]


def _prove_previous_works(aws: Aws, description: Any, previous: str) -> None:
    """Through the rotation function (it has the target's access): AWSPREVIOUS still logs in; else refuse."""
    if description.rotation_lambda_arn is None:
        raise CommandError(f"{description.name}: no rotation function to prove AWSPREVIOUS still works", status=2)
    _, error = aws.invoke_action(description, Action.CHECK_PREVIOUS.value, previous)
    if error:
        raise CommandError(
            f"{description.name}: AWSPREVIOUS ({previous}) no longer works ({error.get('errorType', 'error')}: "
            f"{error.get('errorMessage', '')}); rolling back would hand every consumer a dead credential, so nothing "
            f"was changed. Go forward instead: `rotation rotate {description.name}`",
            status=2,
        )


def cmd_rollback(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    current, previous = description.version_with(Stage.CURRENT), description.version_with(Stage.PREVIOUS)
    if current is None or previous is None:
        raise CommandError(f"{description.name}: there is no AWSPREVIOUS version to go back to", status=2)
    if description.stuck_pending is not None:
        raise CommandError(
            f"{description.name}: a rotation to {description.stuck_pending} is unfinished; rolling back under it "
            f"races its finishSecret. Let it finish (`rotation rotate {description.name} --wait`) or abandon it "
            f"(`rotation unstick {description.name}`), then roll back. Nothing changed",
            status=2,
        )
    kind_name = kind_of(description)
    if kind_name is not None:
        kind = kind_for(kind_name)
        now = kind.parse(aws.sm.get_value(description.arn, version_id=current).text, what="AWSCURRENT")
        before = kind.parse(aws.sm.get_value(description.arn, version_id=previous).text, what="AWSPREVIOUS")
        try:
            note = kind.rollback_note(now, before)
        except RotationError as exc:
            raise CommandError(f"{description.name}: {exc}. Nothing changed", status=2) from exc
        if note:
            say(f"Note: {note}.")
        if kind.CREDENTIAL_AT_TARGET:  # a session secret or signing key is its own proof
            _prove_previous_works(aws, description, previous)
    if getattr(args, "dry_run", False):
        result(args, f"{description.name}: dry run: would make {previous} AWSCURRENT again (now {current}); "
               "nothing changed", secret=description.name, dry_run=True, outcome="would roll back",
               current_version=previous, previous_version=current)  # fmt: skip
        return 0
    confirm(f"{description.name}: make {previous} AWSCURRENT again (now {current})?", args.yes)
    if Stage.PENDING in description.versions.get(current, ()):
        aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=current)
    aws.sm.move_stage(description.arn, Stage.CURRENT, to_version=previous, from_version=current)
    line = f"{description.name}: AWSCURRENT is {previous} again; {current} is AWSPREVIOUS"
    result(args, line, secret=description.name, outcome="rolled back", current_version=previous,
           previous_version=current)  # fmt: skip
    return 0
