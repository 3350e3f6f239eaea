"""``rotation unstick``: abandon a rotation that is stuck, by removing its AWSPENDING label.

Only a rotation Secrets Manager has stopped retrying is abandoned without ``--force``: removing the label under
a step that is running, or before a retry, races the function (an ElastiCache AUTH token it already rotated
becomes an orphan that the next ROTATE keeps while it drops a live one).
"""

from __future__ import annotations

import argparse

from rotation_cli.aws import Aws
from rotation_cli.output import CommandError, confirm, result, say
from rotator.constants import Stage

__all__ = ["cmd_unstick"]


def cmd_unstick(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    pending = aws.pending_rotation(description)
    if pending is None:
        result(args, f"{description.name}: no unfinished rotation (nothing to do)", secret=description.name,
               outcome="nothing to do", pending_version=None)  # fmt: skip
        return 0
    busy = pending.busy()
    if busy is not None and not args.force:
        raise CommandError(
            f"{description.name}: the rotation to {pending.version} is not abandoned yet ({pending.describe()}): "
            f"{busy}. Follow it with `rotation rotate {description.name} --wait`; fix a failing step and let "
            "Secrets Manager's retry finish it; or, knowing it cannot finish, `rotation unstick "
            f"{description.name} --force`. Nothing changed",
            status=2,
        )
    current = description.version_with(Stage.CURRENT)
    if getattr(args, "dry_run", False):
        result(args, f"{description.name}: dry run: would remove AWSPENDING from {pending.version} "
               f"({pending.describe()}); nothing changed", secret=description.name, dry_run=True,
               outcome="would remove AWSPENDING", pending_version=pending.version)  # fmt: skip
        return 0
    say(f"{description.name}: AWSPENDING is on {pending.version} ({pending.describe()}), AWSCURRENT on {current}.")
    if busy is not None:
        say(f"Warning: {busy}; a step that still runs may change the target after the label is gone.")
    say("Removing the label abandons that rotation; the next RotateSecret starts a fresh one.")
    confirm("Remove AWSPENDING from that version?", args.yes)
    aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=pending.version)
    result(args, f"{description.name}: removed AWSPENDING from {pending.version}", secret=description.name,
           outcome="removed AWSPENDING", pending_version=pending.version)  # fmt: skip
    return 0
