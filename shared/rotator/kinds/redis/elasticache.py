"""The ElastiCache API adapter: RBAC users (``DescribeUsers``, ``ModifyUser``; their user groups through
``DescribeUserGroups``) and replication groups' AUTH tokens (``DescribeReplicationGroups``,
``ModifyReplicationGroup``). A user's change is applied once the user is ``active``, every user group holding
it is ``active`` with no ``PendingChanges``, and the secret's replication group is ``available`` with no user
groups pending (the API's ``UserGroup.Status``: "Indicates user group status. Can be 'creating', 'active',
'modifying', 'deleting'"; ``UserGroup.PendingChanges``, ``ReplicationGroupPendingModifiedValues.UserGroups``)."""

from __future__ import annotations

from typing import Any

from rotator.errors import TargetRejectedError
from rotator.kinds.redis.managed_api import ManagedApi, ManagedState, ManagedUsers, has_pending
from rotator.kinds.redis.path import Endpoint

__all__ = ["ElastiCacheGroup", "ElastiCacheUsers"]


class ElastiCacheUsers(ManagedUsers):
    """An ElastiCache RBAC user, by its user id."""

    SERVICE = "elasticache"

    def describe_users(self) -> list[dict[str, Any]]:
        return list(self.invoke("DescribeUsers", UserId=self.target.user)["Users"])

    def keep_passwords(self, passwords: list[str]) -> None:
        self.invoke("ModifyUser", UserId=self.target.user, Passwords=passwords)

    def unsettled_group(self, user: dict[str, Any]) -> str:
        """A user group of the user still ``modifying`` or with ``PendingChanges``, or the secret's replication
        group not ``available`` or with user groups pending (``PendingModifiedValues.UserGroups``)."""
        for group_id in user.get("UserGroupIds") or []:
            for group in self.invoke("DescribeUserGroups", UserGroupId=group_id).get("UserGroups") or []:
                status = str(group.get("Status", ""))
                if status != "active" or has_pending(group.get("PendingChanges")):
                    return f"user group {group_id} is {status if status != 'active' else 'applying changes'}"
        if self.target.replication_group:
            found = self.invoke("DescribeReplicationGroups", ReplicationGroupId=self.target.replication_group)
            for group in found.get("ReplicationGroups") or []:
                status = str(group.get("Status", ""))
                if status != "available" or has_pending((group.get("PendingModifiedValues") or {}).get("UserGroups")):
                    return f"replication group {self.target.replication_group} is " + (
                        status if status != "available" else "applying user groups"
                    )
        return ""


class ElastiCacheGroup(ManagedApi):
    """An ElastiCache replication group's AUTH token."""

    SERVICE = "elasticache"

    def group(self) -> ManagedState:
        """The replication group's status, when its AUTH token last changed, and its endpoints. A pending
        ``AuthTokenStatus`` (``PendingModifiedValues``: SETTING or ROTATING) counts as ``modifying``."""
        found = self.invoke("DescribeReplicationGroups", ReplicationGroupId=self.target.replication_group)
        groups = found.get("ReplicationGroups") or []
        if not groups:
            raise TargetRejectedError(f"ElastiCache replication group {self.target.replication_group} does not exist")
        group = groups[0]
        status = str(group.get("Status", ""))
        # A token change still pending (SETTING, ROTATING) is a change in progress, whatever Status says.
        pending = (group.get("PendingModifiedValues") or {}).get("AuthTokenStatus")
        if pending and status == "available":
            status = "modifying"
        endpoints = _endpoint(group.get("ConfigurationEndpoint"), False)
        for node_group in group.get("NodeGroups") or []:
            endpoints.extend(_endpoint(node_group.get("PrimaryEndpoint"), False))
            endpoints.extend(_endpoint(node_group.get("ReaderEndpoint"), True))
        return ManagedState(status, token_modified=group.get("AuthTokenLastModifiedDate"), endpoints=tuple(endpoints))

    def wait_group(self) -> ManagedState:
        return self.wait(self.group, "available")

    def change_token(self, token: str, strategy: str) -> None:
        """ModifyReplicationGroup with ``token`` (ROTATE adds it, SET leaves only it), applied immediately.

        One attempt, no SDK retry: a repeated ROTATE would drop the older of the two live tokens.
        """
        self.invoke(
            "ModifyReplicationGroup", retries=False, ReplicationGroupId=self.target.replication_group,
            AuthToken=token, AuthTokenUpdateStrategy=strategy, ApplyImmediately=True,
        )  # fmt: skip


def _endpoint(found: Any, reader: bool) -> list[Endpoint]:
    if not isinstance(found, dict) or not found.get("Address"):
        return []
    return [Endpoint((str(found["Address"]).lower(), int(found.get("Port") or 6379)), reader)]
