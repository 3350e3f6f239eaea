"""The MemoryDB API adapter: users (``DescribeUsers``, ``UpdateUser``), by name."""

from __future__ import annotations

from typing import Any

from rotator.kinds.redis.managed_api import ManagedUsers

__all__ = ["MemoryDbUsers"]


class MemoryDbUsers(ManagedUsers):
    """A MemoryDB user, by its name."""

    SERVICE = "memorydb"

    def describe_users(self) -> list[dict[str, Any]]:
        return list(self.invoke("DescribeUsers", UserName=self.target.user)["Users"])

    def keep_passwords(self, passwords: list[str]) -> None:
        self.invoke(
            "UpdateUser", UserName=self.target.user, AuthenticationMode={"Type": "password", "Passwords": passwords}
        )
