"""The redis kind: the choice of its path, once per invocation."""

from __future__ import annotations

from rotator.core.strategy import Kind, StepRequest, Strategy
from rotator.kinds.redis.node import RedisNodes
from rotator.kinds.redis.secret import RedisSecret
from rotator.kinds.redis.settings import ENV_REDIS_ADMIN_SECRET_ARNS, RedisSettings
from rotator.schemes.passwords import passwords_for
from rotator.settings import Settings, permitted_arn

__all__ = ["KIND", "KIND_CLASS", "RedisKind"]

KIND = "redis"


class RedisKind(Kind[RedisSecret]):
    """Overlapping passwords on Redis users, self-managed or managed by ElastiCache or MemoryDB."""

    KIND = KIND
    SECRET = RedisSecret
    CREDENTIAL_AT_TARGET = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        redis_settings = RedisSettings.from_env(settings.environ)
        self.nodes = RedisNodes(redis_settings)
        self.passwords = passwords_for(settings.password_policy, redis_settings.password_mac_key_arn)

    def path_for(self, request: StepRequest[RedisSecret]) -> Strategy[RedisSecret]:
        secret, passwords, settings = request.subject, self.passwords, self.nodes.settings
        target = secret.managed
        if target is not None:
            from rotator.kinds.redis.elasticache import ElastiCacheGroup, ElastiCacheUsers
            from rotator.kinds.redis.managed_target import ELASTICACHE

            if target.user is None:
                from rotator.kinds.redis.auth_token import AuthTokenStrategy

                return AuthTokenStrategy(self.nodes, passwords, ElastiCacheGroup(target, settings.managed))
            from rotator.kinds.redis.managed_user import ManagedUserStrategy
            from rotator.kinds.redis.memorydb import MemoryDbUsers

            users = (ElastiCacheUsers if target.service == ELASTICACHE else MemoryDbUsers)(target, settings.managed)
            return ManagedUserStrategy(self.nodes, passwords, users)
        admin_arn = permitted_arn(
            secret.admin_arn, settings.admin_arn, settings.allowed_admin_arns, field="adminarn",
            role="an admin secret", variable=ENV_REDIS_ADMIN_SECRET_ARNS, parameter="RedisAdminSecretArns",
        )  # fmt: skip
        if admin_arn is None:
            from rotator.kinds.redis.acl_self import AclSelfStrategy

            return AclSelfStrategy(self.nodes, passwords)
        from rotator.kinds.redis.acl_admin import AclAdminStrategy

        return AclAdminStrategy(self.nodes, passwords, admin_arn)


KIND_CLASS = RedisKind
