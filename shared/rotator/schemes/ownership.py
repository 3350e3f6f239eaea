"""The ownership proof: before anything privileged acts for a secret, the secret shows it holds a working
credential of the user it names, by logging in with it.

The candidates come in one order everywhere: AWSCURRENT; then the pending value (an earlier attempt of this
rotation already set it); then AWSPREVIOUS (a crash or a rollback), read only when both were refused, so a
healthy rotation reads no AWSPREVIOUS and has no login refused. A candidate that names another user, host or
database than the secret is never tried: a fallback password never goes anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

from rotator.errors import AuthenticationError, RotationError

__all__ = ["candidates", "prove", "proven"]

L = TypeVar("L")
T = TypeVar("T")


def candidates(*logins: L | Callable[[], L | None], same: Callable[[L], bool]) -> Iterator[L]:
    """``logins`` in order, each produced only when reached (a callable is called then), without those ``same``
    rejects, ``None`` or a repeat."""
    tried: list[L] = []
    for login in logins:
        value = login() if callable(login) else login
        if value is None or not same(value) or any(value is seen for seen in tried):
            continue
        tried.append(value)
        yield value


@contextmanager
def proven(
    logins: Iterable[L], connect: Callable[[L], AbstractContextManager[T]], refused: Callable[[], RotationError]
) -> Iterator[tuple[L, T]]:
    """A session opened with the first of ``logins`` the target accepts, and that login; ``refused()`` when none."""
    for login in logins:
        with ExitStack() as stack:
            try:
                session = stack.enter_context(connect(login))
            except AuthenticationError:
                continue
            yield login, session
            return
    raise refused()


def prove(logins: Iterable[L], log_in: Callable[[L], None], refused: Callable[[], RotationError]) -> L:
    """The first of ``logins`` the target accepts (``log_in`` raises AuthenticationError for a refusal)."""
    for login in logins:
        try:
            log_in(login)
        except AuthenticationError:
            continue
        return login
    raise refused()
