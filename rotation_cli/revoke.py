"""``rotation revoke-previous``: the runbook's last step, run by the rotation function itself."""

from __future__ import annotations

import argparse
import json

from rotation_cli.aws import Aws
from rotation_cli.output import CommandError, confirm, refused_status
from rotator.constants import Action, Stage

__all__ = ["cmd_revoke_previous"]


def cmd_revoke_previous(aws: Aws, args: argparse.Namespace) -> int:
    """The runbook's last step: the rotation function makes AWSPREVIOUS's credential stop working, once no
    consumer task can hold it (it checks, and refuses otherwise)."""
    description = aws.sm.describe(args.secret_id)
    token = description.version_with(Stage.CURRENT)
    if description.rotation_lambda_arn is None or token is None:
        raise CommandError(f"{description.name}: no rotation function or no AWSCURRENT version", status=2)
    confirm(f"{description.name}: make the AWSPREVIOUS credential stop working?", args.yes)
    event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": description.arn, "ClientRequestToken": token}
    response = aws.lambda_.invoke(FunctionName=description.rotation_lambda_arn, Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        error = answer if isinstance(answer, dict) else {}
        kind = str(error.get("errorType", "error"))
        raise CommandError(f"{description.name}: {kind}: {error.get('errorMessage', '')}", refused_status(kind))
    outcome = answer.get("outcome") if isinstance(answer, dict) else None
    print(f"{description.name}: {outcome or 'done'}")
    return 0
