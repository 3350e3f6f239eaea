"""What the ElastiCache and MemoryDB paths share: the service's password rules, and where testSecret logs in.

Such an endpoint is never sent ``ACL`` or ``CONFIG`` (the services refuse them); there the accepted AUTH is the
proof of the user.
"""

from __future__ import annotations

from rotator.kinds.redis.elasticache import ElastiCacheGroup
from rotator.kinds.redis.managed_target import ManagedTarget
from rotator.kinds.redis.node import RedisNodes
from rotator.kinds.redis.path import Endpoint, RedisPath
from rotator.kinds.redis.secret import RedisSecret
from rotator.kinds.redis.settings import Node
from rotator.schemes.passwords import Passwords

__all__ = ["ManagedPath"]


class ManagedPath(RedisPath):
    """A path whose credential the service's API changes; the group (if any) names more endpoints."""

    def __init__(
        self, nodes: RedisNodes, passwords: Passwords, target: ManagedTarget, group: ElastiCacheGroup | None = None
    ) -> None:
        super().__init__(nodes, passwords)
        self.target = target
        if group is None and target.replication_group is not None:
            group = ElastiCacheGroup(target, nodes.settings.managed)
        self.group = group

    @property
    def passwords(self) -> Passwords:
        base = super().passwords
        return base.within(self.target.password_policy(base.policy))

    def endpoints(self, secret: RedisSecret) -> list[Endpoint]:
        """Where the secret points (host and ``nodes``) and, for a replication group, its primary and reader
        endpoints as ElastiCache reports them."""
        found = [Endpoint(node) for node in secret.endpoints]
        if self.group is not None:
            found.extend(self.group.group().endpoints)
        unique: dict[Node, Endpoint] = {}
        for endpoint in found:
            unique.setdefault(endpoint.node, endpoint)
        return list(unique.values())
