"""ElastiCache and MemoryDB as targets: what both APIs share.

Each change takes a while (the user or replication group is ``modifying``): a step waits for it, bounded
(``ROTATION_REDIS_MANAGED_WAIT_SECONDS``, ``rotator.schemes.waiting``), else fails with the retryable
``TargetBusyError``; Secrets Manager re-drives the step, and every step is idempotent.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rotator.errors import TargetBusyError, TargetRejectedError
from rotator.kinds.redis.managed_target import ManagedTarget
from rotator.kinds.redis.path import Endpoint
from rotator.kinds.redis.settings import ManagedSettings
from rotator.schemes.target import AwsApi
from rotator.schemes.waiting import wait_for

__all__ = ["ManagedApi", "ManagedState", "ManagedUsers", "has_pending"]

_TRANSITIONAL = frozenset({"modifying", "creating", "snapshotting"})


def has_pending(changes: Any) -> bool:
    """Whether a ``PendingChanges``-like map (a user group's, an ACL's, a group's pending user groups) lists
    anything still to apply."""
    return isinstance(changes, dict) and any(changes.values())


@dataclass(frozen=True)
class ManagedState:
    """What a describe call says of a user or replication group."""

    status: str
    name: str = ""
    authentication: str = "password"
    token_modified: datetime | None = None
    endpoints: tuple[Endpoint, ...] = ()
    waiting_on: str = ""  # what else keeps a change applying (a user group, an ACL with pending changes)


class ManagedApi(AwsApi):
    """One managed credential through its service's API: every call timed, every error typed, waits bounded."""

    # A change still applying: the user, its user group, the group or one of its clusters is not yet available.
    BUSY: ClassVar[frozenset[str]] = frozenset(
        {"Throttling", "ThrottlingException", "RequestLimitExceeded", "InvalidUserState", "InvalidUserStateFault",
         "InvalidReplicationGroupState", "InvalidCacheClusterState", "InvalidUserGroupState",
         "InvalidUserGroupStateFault"}
    )  # fmt: skip
    MISSING: ClassVar[frozenset[str]] = frozenset(
        {"UserNotFound", "UserNotFoundFault", "ReplicationGroupNotFoundFault", "UserGroupNotFound",
         "UserGroupNotFoundFault", "ACLNotFoundFault"}
    )  # fmt: skip

    def __init__(self, target: ManagedTarget, settings: ManagedSettings, client: Any = None) -> None:
        super().__init__(target.region, client)
        self.target = target
        self.settings = settings

    @property
    def what(self) -> str:
        return self.target.what

    def wait(self, describe: Callable[[], ManagedState], ready: str) -> ManagedState:
        """``describe`` until the status is ``ready``; TargetBusyError after the configured wait."""
        last: list[ManagedState] = []

        def settled() -> ManagedState | None:
            state = describe()
            last[:] = [state]
            if state.status == ready:
                return state
            if state.status not in _TRANSITIONAL:
                raise TargetRejectedError(f"{self.what} is {state.status or 'in no known state'}")
            return None

        def still_busy() -> TargetBusyError:
            why = f" ({last[0].waiting_on})" if last[0].waiting_on else ""
            return TargetBusyError(
                f"{self.what} is still {last[0].status}{why} after {self.settings.wait:g} s: nothing else was "
                "changed, and Secrets Manager retries the step"
            )

        return wait_for(settled, seconds=self.settings.wait, poll=self.settings.poll, gave_up=still_busy)


class ManagedUsers(ManagedApi):
    """A user the service keeps (ElastiCache RBAC or MemoryDB): describe it, set its passwords, wait for it."""

    def user(self) -> ManagedState:
        """The user's status, name in the service and authentication type. An ``active`` user whose change still
        applies to a group that holds it (``unsettled_group``) counts as ``modifying``."""
        users = self.describe_users()
        if not users:
            raise TargetRejectedError(f"{self.what} does not exist")
        user = users[0]
        authentication = str((user.get("Authentication") or {}).get("Type", "password"))
        status, name = str(user.get("Status", "")), str(user.get("UserName") or user.get("Name") or "")
        waiting_on = self.unsettled_group(user) if status == "active" else ""
        return ManagedState("modifying" if waiting_on else status, name, authentication, waiting_on=waiting_on)

    def wait_user(self) -> ManagedState:
        return self.wait(self.user, "active")

    @abstractmethod
    def describe_users(self) -> list[dict[str, Any]]:
        """``DescribeUsers`` for the target's user."""

    @abstractmethod
    def unsettled_group(self, user: dict[str, Any]) -> str:
        """The first group holding ``user`` (ElastiCache user group, MemoryDB ACL) that is not active or still has
        pending changes, described; "" when all have settled."""

    @abstractmethod
    def keep_passwords(self, passwords: list[str]) -> None:
        """The user accepts exactly ``passwords`` (at most two) once the change applies; nothing else changes."""
