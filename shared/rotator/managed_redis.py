"""Redis passwords AWS manages: ElastiCache RBAC users and AUTH tokens, MemoryDB users.

These services refuse ``ACL`` and ``CONFIG`` over the Redis protocol: a password changes only through the
service's API, and each change takes a while (the user or replication group is ``modifying``). A step waits
for it, bounded (``ROTATION_REDIS_MANAGED_WAIT_SECONDS``), else fails with TargetBusyError: Secrets Manager
re-drives the step, and every step is idempotent.

* **Users** (ElastiCache RBAC, MemoryDB): setSecret makes the user accept exactly the current and the pending
  passwords (``ModifyUser`` / ``UpdateUser``; the services allow two). The access string is never sent.
  ``revokePrevious`` keeps only the current password.
* **AUTH tokens** (ElastiCache without RBAC): setSecret calls ``ModifyReplicationGroup`` with the pending token,
  ``AuthTokenUpdateStrategy=ROTATE`` and ``ApplyImmediately``: both tokens work. ROTATE on a group that already
  has two tokens drops the oldest, so it is never repeated blindly: once the token changed after createSecret,
  the pending token is tried first, and the call itself is made without SDK retries. ``revokePrevious`` is
  ``SET`` with the current token, which leaves only it; ElastiCache allows SET only while two tokens are live,
  so it runs only when AWSPREVIOUS's token still logs in.

Before any API call the secret proves it holds the credential by logging in with it (AWSCURRENT; after a
crash or a rollback AWSPREVIOUS or the pending value), and a user's name in the service must be the secret's
username: a secret cannot borrow this function's IAM grant to take over another user.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rotator.errors import (
    AuthenticationError,
    ForbiddenTargetError,
    PolicyError,
    SecretFormatError,
    TargetBusyError,
    TargetRejectedError,
    TargetUnreachableError,
)
from rotator.observability import logger
from rotator.settings import PasswordPolicy
from rotator.timings import timed

if TYPE_CHECKING:
    from rotator.kinds.redis import RedisSecret

__all__ = [
    "AUTH_TOKEN_PUNCTUATION",
    "ELASTICACHE",
    "MEMORYDB",
    "PASSWORD_LENGTHS",
    "Endpoint",
    "ManagedApi",
    "ManagedRotation",
    "ManagedSettings",
    "ManagedTarget",
    "managed_target",
]

ELASTICACHE = "elasticache"
MEMORYDB = "memorydb"
# ElastiCache AUTH tokens: 16 to 128 printable characters, and no punctuation but these.
AUTH_TOKEN_PUNCTUATION = "!&#$^<>-"
PASSWORD_LENGTHS = (16, 128)

_USER_ARNS = {
    ELASTICACHE: re.compile(r"arn:aws[a-z-]*:elasticache:([a-z0-9-]+):\d{12}:user:([a-zA-Z][a-zA-Z0-9-]*)"),
    MEMORYDB: re.compile(r"arn:aws[a-z-]*:memorydb:([a-z0-9-]+):\d{12}:user/([a-zA-Z][a-zA-Z0-9-]*)"),
}
_HOSTS = {
    ELASTICACHE: re.compile(r".+\.cache\.amazonaws\.com(\.cn)?"),
    MEMORYDB: re.compile(r".+\.memorydb\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"),
}
_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_BUSY = frozenset({"InvalidUserState", "InvalidUserStateFault", "InvalidReplicationGroupState", "Throttling",
                   "ThrottlingException", "RequestLimitExceeded"})  # fmt: skip
_MISSING = frozenset({"UserNotFound", "UserNotFoundFault", "ReplicationGroupNotFoundFault"})
Node = tuple[str, int]


@dataclass(frozen=True)
class ManagedTarget:
    """The managed credential a secret names: a user (id in ElastiCache, name in MemoryDB) or, without one,
    the AUTH token of an ElastiCache replication group."""

    service: str
    user: str | None = None
    replication_group: str | None = None
    region: str | None = None

    @property
    def what(self) -> str:
        if self.user is None:
            return f"the AUTH token of ElastiCache replication group {self.replication_group}"
        return f"{'ElastiCache' if self.service == ELASTICACHE else 'MemoryDB'} user {self.user}"

    def password_policy(self, policy: PasswordPolicy) -> PasswordPolicy:
        """``policy`` within what the service accepts (length; an AUTH token's few punctuation characters)."""
        low, high = PASSWORD_LENGTHS
        if not low <= policy.length <= high:
            raise PolicyError(f"{self.what} takes passwords of {low} to {high} characters: set the length within")
        if self.user is not None:
            return policy
        refused = "".join(ch for ch in string.punctuation if ch not in AUTH_TOKEN_PUNCTUATION)
        return replace(policy, exclude_characters=policy.exclude_characters + refused)


def managed_target(
    *, host: str, username: str, managed_by: object, user_arn: object, user_id: object, replication_group_id: object
) -> ManagedTarget | None:
    """What a Redis secret's fields name in ElastiCache or MemoryDB, or None for a self-managed server.

    The service comes from ``managed_by``, the ``user_arn`` or the host (``*.cache.amazonaws.com``,
    ``*.memorydb.<region>.amazonaws.com``); they must agree. The user is ``user_arn``'s, else ``user_id``
    (ElastiCache), else the username; ElastiCache's ``default`` user without one is the AUTH token of
    ``replication_group_id``.
    """
    services: set[str] = set()
    if managed_by is not None:
        if managed_by not in _HOSTS:
            raise SecretFormatError("JSON secret field 'managed_by' must be 'elasticache' or 'memorydb'")
        services.add(str(managed_by))
    user: str | None = None
    region: str | None = None
    if user_arn is not None:
        matched = [(service, found) for service, arn in _USER_ARNS.items() if (found := _match(arn, user_arn))]
        if not matched:
            raise SecretFormatError("JSON secret field 'user_arn' is not an ElastiCache or MemoryDB user ARN")
        service, found = matched[0]
        services.add(service)
        region, user = found.group(1), found.group(2)
    named = next((service for service, pattern in _HOSTS.items() if pattern.fullmatch(host.lower().rstrip("."))), None)
    if named is not None:
        services.add(named)
    for field, value in (("user_id", user_id), ("replication_group_id", replication_group_id)):
        if value is not None and _match(_IDENTIFIER, value) is None:
            raise SecretFormatError(f"JSON secret field '{field}' must be a letter, then letters, digits or hyphens")
    if not services:
        if user_id is not None or replication_group_id is not None:
            raise SecretFormatError(
                "the secret names a managed user or replication group, but neither its host nor 'managed_by' says "
                "ElastiCache or MemoryDB"
            )
        return None
    if len(services) > 1:
        raise SecretFormatError("the secret's host, 'managed_by' and 'user_arn' name different services")
    service = services.pop()
    group = str(replication_group_id) if replication_group_id is not None else None
    if service == MEMORYDB:
        if user_id is not None or group is not None:
            raise SecretFormatError("a MemoryDB user is named by 'user_arn' or the username, not 'user_id' or a group")
        return ManagedTarget(MEMORYDB, user or username, None, region)
    if user_id is not None:
        if user is not None and user != user_id:
            raise SecretFormatError("JSON secret fields 'user_id' and 'user_arn' name different users")
        user = str(user_id)
    if user is None and username != "default":
        user = username  # an ElastiCache user whose id is its name
    if user is None and group is None:
        raise SecretFormatError(
            "an ElastiCache secret names its user ('user_arn' or 'user_id') or, for an AUTH token, its "
            "'replication_group_id' (JSON form)"
        )
    return ManagedTarget(ELASTICACHE, user, group, region)


def _match(pattern: re.Pattern[str], value: object) -> re.Match[str] | None:
    return pattern.fullmatch(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class ManagedSettings:
    """How long a step waits for a ``modifying`` user or group, and how often it asks."""

    wait: float = 40.0
    poll: float = 2.0


@dataclass(frozen=True)
class Endpoint:
    """Where testSecret logs in; a reader endpoint takes no write probe."""

    node: Node
    reader: bool = False


@dataclass(frozen=True)
class _State:
    status: str
    name: str = ""
    authentication: str = "password"
    token_modified: datetime | None = None
    endpoints: tuple[Endpoint, ...] = ()


class ManagedApi:
    """One managed credential through its service's API: every call timed, every error typed, waits bounded."""

    def __init__(self, target: ManagedTarget, settings: ManagedSettings, client: Any = None) -> None:
        self.target = target
        self.settings = settings
        self._client = client
        self._single_attempt: Any = client

    def client(self, *, retries: bool = True) -> Any:
        from rotator.clients import aws_client

        if retries:
            if self._client is None:
                self._client = aws_client(self.target.service, region=self.target.region)
            return self._client
        if self._single_attempt is None:
            self._single_attempt = aws_client(self.target.service, region=self.target.region, max_attempts=1)
        return self._single_attempt

    # users ------------------------------------------------------------------------

    def user(self) -> _State:
        """The user's status, name in the service and authentication type."""
        if self.target.service == ELASTICACHE:
            found = self._call("DescribeUsers", UserId=self.target.user)["Users"]
        else:
            found = self._call("DescribeUsers", UserName=self.target.user)["Users"]
        if not found:
            raise TargetRejectedError(f"{self.target.what} does not exist")
        user = found[0]
        authentication = str((user.get("Authentication") or {}).get("Type", "password"))
        return _State(str(user.get("Status", "")), str(user.get("UserName") or user.get("Name") or ""), authentication)

    def keep_passwords(self, passwords: Iterable[str]) -> None:
        """The user accepts exactly ``passwords`` (at most two) once the change applies; nothing else changes."""
        kept = list(dict.fromkeys(passwords))
        if self.target.service == ELASTICACHE:
            self._call("ModifyUser", UserId=self.target.user, Passwords=kept)
        else:
            mode = {"Type": "password", "Passwords": kept}
            self._call("UpdateUser", UserName=self.target.user, AuthenticationMode=mode)

    def wait_user(self) -> _State:
        return self._wait(self.user, "active")

    # AUTH tokens ------------------------------------------------------------------

    def group(self) -> _State:
        """The replication group's status, when its AUTH token last changed, and its endpoints."""
        found = self._call("DescribeReplicationGroups", ReplicationGroupId=self.target.replication_group)
        groups = found.get("ReplicationGroups") or []
        if not groups:
            raise TargetRejectedError(f"ElastiCache replication group {self.target.replication_group} does not exist")
        group = groups[0]
        endpoints = _endpoint(group.get("ConfigurationEndpoint"), False)
        for node_group in group.get("NodeGroups") or []:
            endpoints.extend(_endpoint(node_group.get("PrimaryEndpoint"), False))
            endpoints.extend(_endpoint(node_group.get("ReaderEndpoint"), True))
        return _State(str(group.get("Status", "")), token_modified=group.get("AuthTokenLastModifiedDate"),
                      endpoints=tuple(endpoints))  # fmt: skip

    def change_token(self, token: str, strategy: str) -> None:
        """ModifyReplicationGroup with ``token`` (ROTATE adds it, SET leaves only it), applied immediately.

        One attempt, no SDK retry: a repeated ROTATE would drop the older of the two live tokens.
        """
        self._call(
            "ModifyReplicationGroup", retries=False, ReplicationGroupId=self.target.replication_group,
            AuthToken=token, AuthTokenUpdateStrategy=strategy, ApplyImmediately=True,
        )  # fmt: skip

    def wait_group(self) -> _State:
        return self._wait(self.group, "available")

    # plumbing ---------------------------------------------------------------------

    def _wait(self, describe: Callable[[], _State], ready: str) -> _State:
        """``describe`` until the status is ``ready``; TargetBusyError after the configured wait."""
        deadline = time.monotonic() + self.settings.wait
        while True:
            state = describe()
            if state.status == ready:
                return state
            if state.status not in ("modifying", "creating", "snapshotting"):
                raise TargetRejectedError(f"{self.target.what} is {state.status or 'in no known state'}")
            if time.monotonic() + self.settings.poll > deadline:
                raise TargetBusyError(
                    f"{self.target.what} is still {state.status} after {self.settings.wait:g} s: nothing else was "
                    "changed, and Secrets Manager retries the step"
                )
            time.sleep(self.settings.poll)

    def _call(self, operation: str, *, retries: bool = True, **kwargs: Any) -> Any:
        from botocore import xform_name
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client(retries=retries)
        try:
            with timed(self.target.service, operation):
                return getattr(client, xform_name(operation))(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code in _BUSY:
                raise TargetBusyError(
                    f"{operation} on {self.target.what}: {code} (an earlier change is still applying); "
                    "Secrets Manager retries the step"
                ) from exc
            if code in _MISSING:
                raise TargetRejectedError(f"{self.target.what} does not exist ({operation}: {code})") from exc
            raise TargetRejectedError(f"{operation} on {self.target.what} was refused: {code}") from exc
        except BotoCoreError as exc:
            raise TargetUnreachableError(f"{operation} on {self.target.what} failed: {type(exc).__name__}") from exc


def _endpoint(found: Any, reader: bool) -> list[Endpoint]:
    if not isinstance(found, dict) or not found.get("Address"):
        return []
    return [Endpoint((str(found["Address"]).lower(), int(found.get("Port") or 6379)), reader)]


Login = Callable[[Node, "RedisSecret"], None]  # opens and closes a session; AuthenticationError when refused


class ManagedRotation:
    """setSecret, revokePrevious and testSecret's endpoints for a managed credential."""

    def __init__(self, api: ManagedApi, login: Login) -> None:
        self.api = api
        self._login = login

    @property
    def target(self) -> ManagedTarget:
        return self.api.target

    def apply(
        self,
        current: RedisSecret,
        pending: RedisSecret,
        owned: Iterable[RedisSecret],
        pending_created: Callable[[], datetime | None],
    ) -> None:
        """The service accepts the current and the pending passwords (users) or tokens (AUTH)."""
        if self.target.user is not None:
            self._keep_user_passwords(current, owned, (current.password, pending.password))
            logger.info("managed user accepts the current and pending passwords", extra={"managed": self.target.what})
            return
        group = self.api.wait_group()
        if self._prove(current, owned) is pending:
            logger.info("pending AUTH token already accepted", extra={"managed": self.target.what})
            return
        # A token change after createSecret is this rotation's own ROTATE (a re-drive): never repeat it.
        if self._changed_since(group.token_modified, pending_created) and self._logs_in(_primary(current), pending):
            logger.info("pending AUTH token already accepted", extra={"managed": self.target.what})
            return
        self.api.change_token(pending.password, "ROTATE")
        self.api.wait_group()
        logger.info("AUTH token rotated: the current and pending tokens work", extra={"managed": self.target.what})

    def revoke(self, current: RedisSecret, previous: RedisSecret | None) -> str:
        """Only AWSCURRENT's password or token keeps working."""
        if self.target.user is not None:
            self._keep_user_passwords(current, (current,), (current.password,))
            return f"{self.target.what} accepts only the current password"
        self.api.wait_group()
        self._prove(current, (current,))
        if previous is None or previous.password == current.password or not self._logs_in(_primary(current), previous):
            return f"nothing to revoke: {self.target.what} accepts only the current token"
        self.api.change_token(current.password, "SET")
        self.api.wait_group()
        return f"{self.target.what} is now only the current token"

    def endpoints(self, secret: RedisSecret) -> list[Endpoint]:
        """Where the secret points (host and ``nodes``) and, for a replication group, its primary and reader
        endpoints as ElastiCache reports them."""
        found = [Endpoint(node) for node in secret.endpoints]
        if self.target.replication_group is not None:
            found.extend(self.api.group().endpoints)
        unique: dict[Node, Endpoint] = {}
        for endpoint in found:
            unique.setdefault(endpoint.node, endpoint)
        return list(unique.values())

    def _keep_user_passwords(
        self, current: RedisSecret, owned: Iterable[RedisSecret], passwords: tuple[str, ...]
    ) -> None:
        """Once the user is proven the secret's own: it accepts exactly ``passwords``, applied before returning."""
        self._own_user(current)
        self._prove(current, owned)
        self.api.keep_passwords(passwords)
        self.api.wait_user()

    @staticmethod
    def _changed_since(modified: datetime | None, created: Callable[[], datetime | None]) -> bool:
        """Whether the token changed after the pending value was created (asked only when it ever changed)."""
        if modified is None:
            return False
        since = created()
        return since is None or modified > since

    def _own_user(self, current: RedisSecret) -> None:
        """The named user is active, logs in with passwords, and is the secret's own user."""
        user = self.api.wait_user()
        if user.name != current.username:
            raise ForbiddenTargetError(
                f"{self.target.what} is not the secret's user {current.username}: a secret changes only its own user"
            )
        if user.authentication != "password":
            raise TargetRejectedError(f"{self.target.what} authenticates with {user.authentication}: no password")

    def _prove(self, current: RedisSecret, owned: Iterable[RedisSecret]) -> RedisSecret:
        """The first of ``owned`` that logs in where the secret points; nothing is changed before one does."""
        node = _primary(current)
        for login in owned:
            if self._logs_in(node, login):
                return login
        raise TargetRejectedError(
            f"cannot prove the secret holds {self.target.what}: none of its current, previous or pending passwords "
            f"logs in to {node[0]}:{node[1]}; the {self.target.service} API was not called"
        )

    def _logs_in(self, node: Node, login: RedisSecret) -> bool:
        try:
            self._login(node, login)
        except AuthenticationError:
            return False
        return True


def _primary(secret: RedisSecret) -> Node:
    return secret.endpoints[0]
