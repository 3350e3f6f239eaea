"""``rotation unstick``: abandon a rotation that is stuck, by removing its AWSPENDING label."""

from __future__ import annotations

import argparse

from rotation_cli.aws import Aws
from rotation_cli.output import confirm, say
from rotator.constants import Stage

__all__ = ["cmd_unstick"]


def cmd_unstick(aws: Aws, args: argparse.Namespace) -> int:
    description = aws.sm.describe(args.secret_id)
    stuck = description.stuck_pending
    if stuck is None:
        print(f"{description.name}: no stuck AWSPENDING (nothing to do)")
        return 0
    current = description.version_with(Stage.CURRENT)
    say(f"{description.name}: AWSPENDING is on {stuck}, AWSCURRENT on {current}.")
    say("Removing the label abandons that rotation; the next RotateSecret starts a fresh one.")
    confirm("Remove AWSPENDING from the stuck version?", args.yes)
    aws.sm.move_stage(description.arn, Stage.PENDING, to_version=None, from_version=stuck)
    print(f"{description.name}: removed AWSPENDING from {stuck}")
    return 0
