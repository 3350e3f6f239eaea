"""The MemoryDB API adapter: users (``DescribeUsers``, ``UpdateUser``), by name. A change is applied once the user
is ``active`` and every ACL holding it (``ACLNames``, ``DescribeACLs``) is ``active`` with no ``PendingChanges``
(the API's ``ACL.Status``: "Indicates ACL status. Can be 'creating', 'active', 'modifying', 'deleting'")."""

from __future__ import annotations

from typing import Any

from rotator.kinds.redis.managed_api import ManagedUsers, has_pending

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

    def unsettled_group(self, user: dict[str, Any]) -> str:
        for name in user.get("ACLNames") or []:
            for acl in self.invoke("DescribeACLs", ACLName=name).get("ACLs") or []:
                status = str(acl.get("Status", ""))
                if status != "active" or has_pending(acl.get("PendingChanges")):
                    return f"ACL {name} is {status if status != 'active' else 'applying changes'}"
        return ""
