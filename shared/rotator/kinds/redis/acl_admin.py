"""A Redis ACL user whose passwords an admin secret changes (``adminarn``, or ``ROTATION_REDIS_ADMIN_SECRET_ARN``).

The rotation first proves the secret owns the user by logging in as it (``rotator.schemes.ownership``); the
admin password goes only to the admin secret's own endpoints (its host and ``nodes``, plus
``ROTATION_REDIS_NODES``), with the admin secret's own TLS settings; the admin's own user and users that hold
the ``acl`` command or the whole ``@admin`` category are never changed (``rotator.kinds.redis.acl_rules``).
"""

from __future__ import annotations

from rotator.core.strategy import StepRequest
from rotator.errors import ForbiddenTargetError
from rotator.kinds.redis.node import RedisNodes
from rotator.kinds.redis.path import Endpoint, RedisPath
from rotator.kinds.redis.secret import RedisSecret
from rotator.kinds.redis.settings import ENV_REDIS_NODES, Node
from rotator.observability import logger
from rotator.schemes.overlap import Logins, PasswordOverlap
from rotator.schemes.passwords import Passwords

__all__ = ["AclAdminStrategy"]


class AclAdminStrategy(RedisPath, PasswordOverlap[RedisSecret]):
    """Two live passwords on a Redis ACL user, set through the admin secret on every node."""

    def __init__(self, nodes: RedisNodes, passwords: Passwords, admin_arn: str) -> None:
        super().__init__(nodes, passwords)
        self.admin_arn = admin_arn

    def endpoints(self, secret: RedisSecret) -> list[Endpoint]:
        return [Endpoint(node) for node in self.with_configured(secret.endpoints)]

    def accept_only(
        self, request: StepRequest[RedisSecret], owned: Logins[RedisSecret], keep: tuple[RedisSecret, ...]
    ) -> None:
        current = request.current
        admin = RedisSecret.parse(request.versions.other(self.admin_arn).text, what="admin secret")
        nodes = self._admin_nodes(admin, current)
        self.prove_owner(current, owned, current.username, "the admin secret")
        for node in nodes:
            with self.nodes.session(node, admin) as session:
                rules = session.user_rules(current.username)  # ACL SETUSER would create a missing user
                held = session.user_admin_right(rules)
                if held is not None:
                    raise ForbiddenTargetError(
                        f"user {current.username} on {node[0]}:{node[1]} holds {held}: a rotation never changes it "
                        "through the admin; it can change its own passwords: rotate it without an admin secret (no "
                        "adminarn, and no default admin for its function)"
                    )
                session.set_passwords(current.username, (login.password for login in keep))
        logger.info("passwords set on every node", extra={"redis_user": current.username})

    def revoked(self, current: RedisSecret) -> str:
        return f"{current.username} accepts only the current password on every node"

    def _admin_nodes(self, admin: RedisSecret, current: RedisSecret) -> list[Node]:
        """Where the admin password may go: its own endpoints and the configured nodes, never elsewhere."""
        if current.username == admin.username:
            raise ForbiddenTargetError(
                f"{current.username} is the admin secret's own user: never changed by a rotation"
            )
        allowed = self.with_configured(admin.endpoints)
        outside = [node for node in current.endpoints if node not in allowed]
        if outside:
            host, port = outside[0]
            raise ForbiddenTargetError(
                f"the secret names {host}:{port}, which is not an endpoint of its admin secret (host, nodes) or "
                f"{ENV_REDIS_NODES}: the admin password is used only there"
            )
        return sorted(allowed, key=lambda node: node not in current.endpoints)
