"""``rotation revoke-previous``: the runbook's last step, run by the rotation function itself."""

from __future__ import annotations

import argparse

from rotation_cli.aws import Aws
from rotation_cli.output import CommandError, confirm, refused_status, result
from rotator.constants import Action, Stage

__all__ = ["cmd_revoke_previous"]


def cmd_revoke_previous(aws: Aws, args: argparse.Namespace) -> int:
    """The runbook's last step: the rotation function makes AWSPREVIOUS's credential stop working, once no
    consumer task can hold it (it checks, and refuses otherwise)."""
    description = aws.sm.describe(args.secret_id)
    token = description.version_with(Stage.CURRENT)
    if description.rotation_lambda_arn is None or token is None:
        raise CommandError(f"{description.name}: no rotation function or no AWSCURRENT version", status=2)
    previous = description.version_with(Stage.PREVIOUS)
    if getattr(args, "dry_run", False):
        function = description.rotation_lambda_arn.rsplit(":", 1)[-1]
        would = (
            f"invoke {function} to make AWSPREVIOUS ({previous}) stop working; it refuses while a consumer task "
            "may hold it or within the minimum overlap"
            if previous
            else "find nothing to revoke (never rotated)"
        )
        planned = "would revoke" if previous else "nothing to revoke"
        result(args, f"{description.name}: dry run: would {would}; nothing changed", secret=description.name,
               dry_run=True, outcome=planned, previous_version=previous)  # fmt: skip
        return 0
    confirm(f"{description.name}: make the AWSPREVIOUS credential stop working?", args.yes)
    answer, error = aws.invoke_action(description, Action.REVOKE_PREVIOUS.value, token)
    if error:
        kind = str(error.get("errorType", "error"))
        raise CommandError(f"{description.name}: {kind}: {error.get('errorMessage', '')}", refused_status(kind))
    outcome = str(answer.get("outcome") or "done") if isinstance(answer, dict) else "done"
    result(args, f"{description.name}: {outcome}", secret=description.name, outcome=outcome,
           previous_version=previous)  # fmt: skip
    return 0
