"""What every command shares: the refusal with an exit status, progress on standard error, confirmation."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["CommandError", "confirm", "refused_status", "result", "say"]


class CommandError(Exception):
    """A refusal or a failure, with the exit status it ends the command with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def say(message: str) -> None:
    """A progress or warning line on standard error (standard output carries the result)."""
    print(message, file=sys.stderr, flush=True)


def result(args: Any, line: str, **fields: Any) -> None:
    """The command's result on standard output: ``line``, or with ``--json`` the ``fields`` as one object."""
    if getattr(args, "json", False):
        print(json.dumps(fields, indent=2))
    else:
        print(line)


def confirm(question: str, yes: bool) -> None:
    """Ask on standard input unless ``yes``; anything but ``yes`` aborts with nothing changed."""
    if yes:
        return
    say(f"{question} Type 'yes' to continue:")
    answer = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if answer != "yes":
        raise CommandError("aborted: nothing changed", status=2)


def refused_status(error_type: str) -> int:
    """The exit status for an error the rotation function reported by its type's name: 2 for a refusal raised
    before anything changed (``RotationError.changes_nothing``), 1 for any other failure."""
    from rotator import errors

    found = getattr(errors, error_type, None)
    return 2 if isinstance(found, type) and issubclass(found, errors.RotationError) and found.changes_nothing else 1
