"""An ElastiCache RBAC user or a MemoryDB user: setSecret makes the user accept exactly the current and the
pending passwords (``ModifyUser`` / ``UpdateUser``; both services allow two), ``revokePrevious`` keeps only the
current one. The access string is never sent.

Before any API call the secret proves it holds the credential by logging in with it, and the user's name in the
service must be the secret's username: a secret cannot borrow this function's IAM grant to take over another
user.
"""

from __future__ import annotations

from rotator.core.strategy import StepRequest
from rotator.errors import ForbiddenTargetError, TargetRejectedError
from rotator.kinds.redis.managed_api import ManagedUsers
from rotator.kinds.redis.managed_path import ManagedPath
from rotator.kinds.redis.node import RedisNodes
from rotator.kinds.redis.secret import RedisSecret
from rotator.observability import logger
from rotator.schemes.overlap import Logins, PasswordOverlap
from rotator.schemes.passwords import Passwords

__all__ = ["ManagedUserStrategy"]


class ManagedUserStrategy(ManagedPath, PasswordOverlap[RedisSecret]):
    """Two live passwords on a managed user, through its service's API (``users``)."""

    def __init__(self, nodes: RedisNodes, passwords: Passwords, users: ManagedUsers) -> None:
        super().__init__(nodes, passwords, users.target)
        self.users = users

    def accept_only(
        self, request: StepRequest[RedisSecret], owned: Logins[RedisSecret], keep: tuple[RedisSecret, ...]
    ) -> None:
        current = request.current
        user = self.users.wait_user()
        if user.name != current.username:
            raise ForbiddenTargetError(
                f"{self.target.what} is not the secret's user {current.username}: a secret changes only its own user"
            )
        if user.authentication != "password":
            raise TargetRejectedError(f"{self.target.what} authenticates with {user.authentication}: no password")
        self.prove_owner(current, owned, self.target.what, f"the {self.target.service} API")
        self.users.keep_passwords(list(dict.fromkeys(login.password for login in keep)))
        self.users.wait_user()
        kept = "the current and pending passwords" if len(keep) > 1 else "only the current password"
        logger.info(f"managed user accepts {kept}", extra={"managed": self.target.what})

    def revoked(self, current: RedisSecret) -> str:
        return f"{self.target.what} accepts only the current password"
