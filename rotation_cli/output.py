"""What every command shares: the refusal with an exit status, progress on standard error, confirmation."""

from __future__ import annotations

import sys

__all__ = ["CommandError", "confirm", "say"]


class CommandError(Exception):
    """A refusal or a failure, with the exit status it ends the command with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def say(message: str) -> None:
    """A progress or warning line on standard error (standard output carries the result)."""
    print(message, file=sys.stderr, flush=True)


def confirm(question: str, yes: bool) -> None:
    """Ask on standard input unless ``yes``; anything but ``yes`` aborts with nothing changed."""
    if yes:
        return
    say(f"{question} Type 'yes' to continue:")
    answer = sys.stdin.readline().strip() if sys.stdin is not None else ""
    if answer != "yes":
        raise CommandError("aborted: nothing changed", status=1)
