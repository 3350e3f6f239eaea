"""An ElastiCache replication group's AUTH token (no RBAC): setSecret calls ``ModifyReplicationGroup`` with the
pending token, ``AuthTokenUpdateStrategy=ROTATE`` and ``ApplyImmediately``: both tokens work. ROTATE on a group
that already has two tokens drops the oldest, so it is never repeated blindly: once the token changed after
createSecret, the pending token is tried first, and the call itself is made without SDK retries.
``revokePrevious`` is ``SET`` with the current token, which leaves only it; ElastiCache allows SET only while two
tokens are live, so it runs only when AWSPREVIOUS's token still logs in.

Before any API call the secret proves it holds a token by logging in with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from rotator.core.strategy import ApplyRequest, RevokeRequest, Revokes
from rotator.errors import AuthenticationError
from rotator.kinds.redis.elasticache import ElastiCacheGroup
from rotator.kinds.redis.managed_path import ManagedPath
from rotator.kinds.redis.node import RedisNodes
from rotator.kinds.redis.secret import RedisSecret
from rotator.observability import logger
from rotator.schemes.ownership import candidates
from rotator.schemes.passwords import Passwords

__all__ = ["AuthTokenStrategy"]


class AuthTokenStrategy(ManagedPath):
    """Two live AUTH tokens after ROTATE; SET ends the overlap (``Revocable``: AWSPREVIOUS's token)."""

    def __init__(self, nodes: RedisNodes, passwords: Passwords, group: ElastiCacheGroup) -> None:
        super().__init__(nodes, passwords, group.target, group)
        self.tokens = group

    def revokes(self, request: ApplyRequest[RedisSecret]) -> Revokes:
        return Revokes.PREVIOUS

    def apply(self, request: ApplyRequest[RedisSecret]) -> None:
        self.check_pending(request)
        current, pending, versions = request.current, request.pending, request.versions
        group = self.tokens.wait_group()

        def owned() -> Iterator[RedisSecret]:
            return candidates(current, pending, versions.previous_secret,
                              same=lambda login: self.same_credential(login, current))  # fmt: skip

        if self.prove_owner(current, owned, self.target.what, f"the {self.target.service} API") is pending:
            logger.info("pending AUTH token already accepted", extra={"managed": self.target.what})
            return
        # A token change after createSecret is this rotation's own ROTATE (a re-drive): never repeat it.
        if _changed_since(group.token_modified, versions.pending_created) and self._logs_in(current, pending):
            logger.info("pending AUTH token already accepted", extra={"managed": self.target.what})
            return
        self.tokens.change_token(pending.password, "ROTATE")
        self.tokens.wait_group()
        logger.info("AUTH token rotated: the current and pending tokens work", extra={"managed": self.target.what})

    def revoke_previous(self, request: RevokeRequest[RedisSecret]) -> str:
        """Only AWSCURRENT's token keeps working."""
        self.check_kept(request)
        current, previous = request.current, request.previous
        self.tokens.wait_group()
        self.prove_owner(current, lambda: iter((current,)), self.target.what, f"the {self.target.service} API")
        if (
            previous is None
            or not self.same_credential(previous, current)
            or previous.password == current.password
            or not self._logs_in(current, previous)
        ):
            return f"nothing to revoke: {self.target.what} accepts only the current token"
        self.tokens.change_token(current.password, "SET")
        self.tokens.wait_group()
        return f"{self.target.what} is now only the current token"

    def _logs_in(self, current: RedisSecret, login: RedisSecret) -> bool:
        """Whether ``login``'s token opens a session where ``current`` points."""
        try:
            self.nodes.log_in(current.endpoints[0], login)
        except AuthenticationError:
            return False
        return True


def _changed_since(modified: datetime | None, created: Callable[[], datetime | None]) -> bool:
    """Whether the token changed after the pending value was created (asked only when it ever changed)."""
    if modified is None:
        return False
    since = created()
    return since is None or modified > since
