"""A Redis ACL user that changes its own passwords (no admin secret): on every node, the user logs in with a
password the secret holds (``rotator.schemes.ownership``) and keeps exactly the overlap's passwords. Its rules
must allow ``ACL SETUSER`` on itself, and persisting (``ACL SAVE`` or ``CONFIG REWRITE``)."""

from __future__ import annotations

from rotator.core.strategy import StepRequest
from rotator.kinds.redis.path import Endpoint, RedisPath
from rotator.kinds.redis.secret import RedisSecret
from rotator.observability import logger
from rotator.schemes.overlap import Logins, PasswordOverlap

__all__ = ["AclSelfStrategy"]


class AclSelfStrategy(RedisPath, PasswordOverlap[RedisSecret]):
    """Two live passwords on a Redis ACL user, set by the user itself on every node."""

    def endpoints(self, secret: RedisSecret) -> list[Endpoint]:
        return [Endpoint(node) for node in self.with_configured(secret.endpoints)]

    def accept_only(
        self, request: StepRequest[RedisSecret], owned: Logins[RedisSecret], keep: tuple[RedisSecret, ...]
    ) -> None:
        user = request.current.username
        for endpoint in self.endpoints(request.current):
            with self.owner_session(endpoint.node, owned, user) as (_, session):
                session.user_rules(user)  # ACL SETUSER would create a missing user: refused instead
                session.set_passwords(user, (login.password for login in keep))
        logger.info("passwords set on every node", extra={"redis_user": user})

    def revoked(self, current: RedisSecret) -> str:
        return f"{current.username} accepts only the current password on every node"
