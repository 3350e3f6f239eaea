"""An ElastiCache replication group's AUTH token (no RBAC), rotated by ``ModifyReplicationGroup``.

ElastiCache keeps at most two tokens: ``ROTATE`` adds one, and on a group that already has two it removes the
**oldest**; ``SET`` is allowed only after a ``ROTATE``, names the token last rotated, and leaves only it (ElastiCache
User Guide, "Modifying the AUTH token on an existing cluster"; API Reference, ``AuthTokenUpdateStrategy``: "SET -
allowed only after ROTATE"). So the order of the two live tokens decides what a ``ROTATE`` drops:

* normally AWSCURRENT's token is the newer one (its rotation rotated it last): ``ROTATE`` the pending token drops
  AWSPREVIOUS's, and both the current and the pending token work;
* after ``rotation rollback`` AWSCURRENT's token is the *older* one, and after ``rotation unstick`` (or a rotation
  abandoned after its ``ROTATE``) an orphan token is the newer one. A ``ROTATE`` then would drop the token every
  client uses. The path first makes AWSCURRENT's token the only one (``ROTATE`` it, which drops the oldest, which
  is itself, and adds it back as the newest; then ``SET`` it) and only then rotates the pending token.

The order is read from the secret's own history: the newest live token is that of the latest version created
before the group's ``AuthTokenLastModifiedDate`` whose token still logs in (a token is rotated by setSecret,
after createSecret made its version). A ``ROTATE`` is never repeated blindly: once the token changed after
createSecret the pending token is tried first, and the call is made without SDK retries. A group with a token
change still pending (``PendingModifiedValues.AuthTokenStatus``) is waited for, before and after each change.
``revokePrevious`` leaves only AWSCURRENT's token, from any of these states. Before any API call the secret
proves it holds a token by logging in with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from rotator.core.strategy import ApplyRequest, RevokeRequest, Revokes, StepRequest
from rotator.errors import AuthenticationError, SecretFormatError
from rotator.kinds.redis.elasticache import ElastiCacheGroup
from rotator.kinds.redis.managed_api import ManagedState
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
        # A token change after createSecret is this rotation's own (a re-drive): never repeat it. Its ROTATE of
        # the pending token, if that logs in; else its making AWSCURRENT's token the newest (or the only one).
        changed = _changed_since(group.token_modified, versions.pending_created)
        if changed and self._logs_in(current, pending):
            logger.info("pending AUTH token already accepted", extra={"managed": self.target.what})
            return
        if not changed and not self._current_is_newest(request, group, pending=request.secret.token):
            self._make_sole(current)
        self.tokens.change_token(pending.password, "ROTATE")
        self.tokens.wait_group()
        logger.info("AUTH token rotated: the current and pending tokens work", extra={"managed": self.target.what})

    def revoke_previous(self, request: RevokeRequest[RedisSecret]) -> str:
        """Only AWSCURRENT's token keeps working."""
        self.check_kept(request)
        current, previous = request.current, request.previous
        group = self.tokens.wait_group()
        self.prove_owner(current, lambda: iter((current,)), self.target.what, f"the {self.target.service} API")
        if not self._current_is_newest(request, group, pending=None):
            self._make_sole(current)
            return f"{self.target.what} is now only the current token (it was the older of two)"
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

    def _current_is_newest(
        self, request: StepRequest[RedisSecret], group: ManagedState, *, pending: str | None
    ) -> bool:
        """Whether AWSCURRENT's token is the newer of the live tokens (or the only one), from the secret's versions
        and the group's last token change; ``pending``: this rotation's version, whose token is not live yet."""
        modified, versions = group.token_modified, request.versions
        if modified is None:
            return True  # never changed since the group was created with one token
        current_version = versions.description.version_with("AWSCURRENT")
        created = versions.created_dates()
        rotated = sorted((v for v, at in created.items() if v != pending and at < modified), key=created.__getitem__)
        for version_id in reversed(rotated):
            if version_id == current_version:
                return True
            token = self._token_of(request, version_id)
            if token is not None and self._logs_in(request.current, token):
                logger.info("a newer AUTH token than AWSCURRENT's is live", extra={"managed": self.target.what,
                                                                                  "version": version_id})  # fmt: skip
                return False
        return True

    def _token_of(self, request: StepRequest[RedisSecret], version_id: str) -> RedisSecret | None:
        """The token of another version of the secret, when it names the same group."""
        value = request.versions.version(version_id)
        if value is None:
            return None
        try:
            secret = request.versions.parsed(value, what=f"version {version_id}")
        except SecretFormatError:
            return None
        return secret if self.same_credential(secret, request.current) else None

    def _make_sole(self, current: RedisSecret) -> None:
        """Leave AWSCURRENT's token the only one: ROTATE it (it is then the newest, and still live), then SET it."""
        self.tokens.change_token(current.password, "ROTATE")
        self.tokens.wait_group()
        self.tokens.change_token(current.password, "SET")
        self.tokens.wait_group()
        logger.info("AUTH token: AWSCURRENT's is now the only one", extra={"managed": self.target.what})

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
