"""ElastiCache and MemoryDB as a rotation meets them, over real ``redis-server`` processes.

moto models MemoryDB users (``CreateUser``, ``DescribeUsers``, ``UpdateUser``) but neither service's effect on a
server, nor ElastiCache's ``ModifyUser``, user groups or AUTH-token rotation, nor MemoryDB ACLs. So MemoryDB users
live in moto, which answers their calls; the sandbox checks an ``UpdateUser`` first (as MemoryDB refuses it) and
applies it to the servers; and it answers the rest (ElastiCache ``DescribeUsers``, ``ModifyUser``,
``DescribeUserGroups``, ``DescribeReplicationGroups``, ``ModifyReplicationGroup``; MemoryDB ``DescribeACLs``)
for the users and groups it created, applying each change as the services do:

* a change leaves the user ``modifying`` (the group ``modifying``) for a
  while; only then do the new passwords work, on the primary and the replica;
  with ``groups_settle_late`` the user is ``active`` again while its user group
  (ElastiCache) or ACL (MemoryDB) is still ``modifying``, and the passwords
  work only once that settles: a caller must read both;
* ``ROTATE`` adds a token and keeps the newest two, ``SET`` (only with two
  tokens, and only the last one) leaves one, as AWS's ElastiCache guide says;
  while a token change applies, ``PendingModifiedValues.AuthTokenStatus`` says
  ``ROTATING`` or ``SETTING`` (with ``token_settles_late`` the group is already
  ``available`` again while it does: a caller must read both);
  tokens and passwords outside 16 to 128 characters, tokens with other
  punctuation than ``!&#$^<>-``, and user passwords with ``, " / @`` are refused;
* clients cannot run ``ACL`` or ``CONFIG`` (both are renamed to names only
  this emulator knows), as on the managed services.

Every other call of these services goes on to moto.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rotator.kinds.redis.managed_target import USER_PASSWORD_REFUSED
from sandbox.moto_server import ACCOUNT_ID, REGION
from sandbox.query_protocol import Answer, query_error, query_params, query_response
from sandbox.redis_server import RedisServer

__all__ = ["ManagedRedis"]

Node = tuple[str, int]
_TOKEN_PUNCTUATION = "!&#$^<>-"


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _User:
    service: str
    user_id: str
    name: str
    access_string: str
    passwords: list[str]
    status: str = "active"
    group: str = ""  # its ElastiCache user group, or MemoryDB ACL

    @property
    def arn(self) -> str:
        if self.service == "memorydb":
            return f"arn:aws:memorydb:{REGION}:{ACCOUNT_ID}:user/{self.name}"
        return f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:user:{self.user_id}"


@dataclass
class _Group:
    group_id: str
    servers: tuple[RedisServer, RedisServer]  # primary, replica
    tokens: list[str] = field(default_factory=list)
    status: str = "available"
    token_modified: datetime | None = None
    pending_token: str | None = None  # PendingModifiedValues.AuthTokenStatus while a token change applies


class ManagedRedis:
    """The emulated services; ``answer`` is the moto server's hook for their signing names."""

    def __init__(self, *, modifying_seconds: float = 0.3, host: str = "127.0.0.1", bind: str = "127.0.0.1") -> None:
        self.modifying_seconds = modifying_seconds
        self._host = host
        self._bind = bind
        self._acl = "acl-" + secrets.token_hex(8)  # the control plane's own name for ACL
        self._control = secrets.token_urlsafe(24)  # the control plane's password on every server
        self._lock = threading.Lock()
        self.users: dict[tuple[str, str], _User] = {}
        self.groups: dict[str, _Group] = {}
        self.held: set[str] = set()  # user ids and group ids that stay ``modifying`` until released
        self.refusals: dict[str, str] = {}  # operation -> error code it answers once (a refused change)
        self.stale_replicas = False  # changes reach the primaries only (a reader that did not follow)
        self.token_settles_late = False  # a group is available again before its token change applied
        self.groups_settle_late = False  # a user is active again before its user group or ACL applied the change
        self.user_groups: dict[str, str] = {}  # ElastiCache user group or MemoryDB ACL -> its status
        self.requests: list[tuple[str, str, tuple[str, ...]]] = []  # service, operation, parameter names
        self._rbac = self._pair()

    # set-up -----------------------------------------------------------------------

    def _pair(self) -> tuple[RedisServer, RedisServer]:
        """A primary and its replica; ACL and CONFIG renamed; the control plane's and replication's users."""
        hidden = [f"rename-command ACL {self._acl}", f"rename-command CONFIG config-{secrets.token_hex(8)}"]
        users = {
            "sandbox-control": ("on ~* &* +@all", self._control),
            "sandbox-replication": ("on +psync +replconf +ping", self._control),
            "default": ("off", self._control),
        }
        primary = RedisServer(users, bind=self._bind, extra_config=hidden).start()
        where = (primary.host, primary.port, "sandbox-replication", self._control)
        replica = RedisServer(users, bind=self._bind, replica_of=where, extra_config=hidden).start()
        return primary, replica

    def nodes(self, servers: Iterable[RedisServer] | None = None) -> list[Node]:
        """Where clients reach the servers (the RBAC pair unless ``servers`` names others)."""
        return [(self._host, server.port) for server in (servers or self._rbac)]

    def add_user(self, service: str, user_id: str, name: str, password: str, access_string: str) -> str:
        """A user of the RBAC pair (ElastiCache user id, or MemoryDB, whose id is the name) in the pair's user group
        or ACL; returns its ARN. A MemoryDB user is created in moto."""
        group = f"sandbox-{'users' if service == 'elasticache' else 'acl'}"
        user = _User(service, user_id if service == "elasticache" else name, name, access_string, [password],
                     group=group)  # fmt: skip
        self.users[(service, user.user_id)] = user
        self.user_groups.setdefault(group, "active")
        if service == "memorydb":
            found = _memorydb().create_user(name, {"Type": "password", "Passwords": [password]}, access_string)
            found.acl_names = [group]
        self._set_user(self._rbac, name, f"{access_string} resetpass", user.passwords)
        return user.arn

    def add_auth_group(self, group_id: str, token: str) -> tuple[Node, Node]:
        """A replication group whose default user needs ``token``; returns its primary and reader endpoints."""
        group = _Group(group_id, self._pair(), [token], token_modified=datetime.now(UTC))
        self.groups[group_id] = group
        self._set_user(group.servers, "default", "on ~* &* +@all resetpass", group.tokens)
        primary, reader = self.nodes(group.servers)
        return primary, reader

    def add_rbac_group(self, group_id: str) -> tuple[Node, Node]:
        """A replication group over the RBAC pair (its users are the ElastiCache users added here)."""
        self.groups.setdefault(group_id, _Group(group_id, self._rbac))
        primary, reader = self.nodes(self._rbac)
        return primary, reader

    def failed_logins(self) -> int:
        """Refused AUTHs on every server, from each one's ACL LOG (read through the control plane)."""

        refused = 0
        for server in self._servers():
            with self._control_client(server) as client:
                for entry in client.execute_command(self._acl, "LOG", "10000"):
                    fields = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=False))
                    fields = {_text(key): value for key, value in fields.items()}
                    if _text(fields.get("reason", "")) == "auth":
                        refused += int(fields.get("count", 1))
        return refused

    def _servers(self) -> list[RedisServer]:
        found = {id(server): server for server in self._rbac}
        for group in self.groups.values():
            found.update((id(server), server) for server in group.servers)
        return list(found.values())

    def close(self) -> None:
        for server in self._servers():
            server.cleanup()

    def __enter__(self) -> ManagedRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the servers ------------------------------------------------------------------

    def _set_user(self, servers: Iterable[RedisServer], name: str, rules: str, passwords: Iterable[str]) -> None:

        hashes = ["#" + hashlib.sha256(password.encode()).hexdigest() for password in passwords]
        for index, server in enumerate(servers):
            if index and self.stale_replicas:
                continue
            with self._control_client(server) as client:
                client.execute_command(self._acl, "SETUSER", name, *rules.split(), *hashes)

    def _control_client(self, server: RedisServer) -> Any:
        """A session as the control plane's own user (the only one that may run the renamed ACL)."""
        import redis

        return redis.Redis(host=server.host, port=server.port, username="sandbox-control", password=self._control)

    def _later(self, key: str, apply: Callable[[], None]) -> None:
        """Run ``apply`` after the modifying period (later still while ``key`` is held)."""

        def run() -> None:
            while key in self.held:
                time.sleep(0.05)
            with self._lock:
                apply()

        timer = threading.Timer(self.modifying_seconds, run)
        timer.daemon = True
        timer.start()

    # the APIs ---------------------------------------------------------------------

    def answer(self, service: str, operation: str, body: bytes) -> Answer | None:
        """The response to one call, or None to let moto answer it."""
        handlers: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any] | None]] = {
            ("elasticache", "DescribeUsers"): lambda p: {"Users": [self._user_shape(self._user("elasticache", p))]},
            ("elasticache", "ModifyUser"): lambda p: self._user_shape(self._modify_user("elasticache", p)),
            ("elasticache", "DescribeReplicationGroups"): self._describe_groups,
            ("elasticache", "ModifyReplicationGroup"): self._modify_group,
            ("elasticache", "DescribeUserGroups"): lambda p: {"UserGroups": [self._group_shape(p, "UserGroupId")]},
            ("memorydb", "UpdateUser"): self._update_memorydb_user,
            ("memorydb", "DescribeACLs"): lambda p: {"ACLs": [self._group_shape(p, "ACLName")]},
        }
        handler = handlers.get((service, operation))
        if handler is None:
            return None
        params = query_params(body) if service == "elasticache" else json.loads(body or b"{}")
        with self._lock:
            self.requests.append((service, operation, tuple(sorted(params))))
            try:
                if operation in self.refusals:
                    raise _Refused(self.refusals.pop(operation), f"{operation} refused")
                result = handler(params)
            except _Refused as refused:
                return _error(service, refused.code, str(refused))
        return None if result is None else _response(service, operation, result)

    def _user(self, service: str, params: dict[str, Any]) -> _User:
        key = params.get("UserId") if service == "elasticache" else params.get("UserName")
        user = self.users.get((service, str(key)))
        if user is None:
            raise _Refused("UserNotFound" if service == "elasticache" else "UserNotFoundFault", "User not found")
        return user

    def _modify_user(self, service: str, params: dict[str, Any]) -> _User:
        user = self._user(service, params)
        if user.status != "active":
            raise _Refused("InvalidUserState" if service == "elasticache" else "InvalidUserStateFault",
                           f"User {user.user_id} is not in active state")  # fmt: skip
        mode = params.get("AuthenticationMode") or {}
        passwords = list(params.get("Passwords") or mode.get("Passwords") or [])
        invalid = "InvalidParameterValue" if service == "elasticache" else "InvalidParameterValueException"
        if not 1 <= len(passwords) <= 2:
            raise _Refused(invalid, "A user has one or two passwords")
        if any(not 16 <= len(password) <= 128 or not password.isprintable() for password in passwords):
            raise _Refused(invalid, "Passwords must be 16 to 128 printable characters")
        if any(ch in password for password in passwords for ch in USER_PASSWORD_REFUSED):
            raise _Refused(invalid, 'Passwords cannot contain , " / or @')
        access = params.get("AccessString")
        self._status(user, "modifying")

        def apply() -> None:
            user.passwords = passwords
            if access:
                user.access_string = str(access)
            self._set_user(self._rbac, user.name, f"{user.access_string} resetpass", passwords)
            self._status(user, "active")
            self.user_groups[user.group] = "active"

        if self.groups_settle_late:

            def user_first() -> None:
                self._status(user, "active")
                self.user_groups[user.group] = "modifying"
                self._later(user.group, apply)

            self._later(user.user_id, user_first)
        else:
            self._later(user.user_id, apply)
        return user

    def _status(self, user: _User, status: str) -> None:
        """The user's status, in moto too for a MemoryDB user (moto answers its DescribeUsers)."""
        user.status = status
        if user.service == "memorydb":
            _memorydb().users[user.name].status = status

    def _update_memorydb_user(self, params: dict[str, Any]) -> None:
        """Refuse what MemoryDB refuses, start applying the change, and let moto record it and answer."""
        self._modify_user("memorydb", params)

    def _group_shape(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        name = str(params.get(key, ""))
        if name not in self.user_groups:
            raise _Refused("UserGroupNotFound" if key == "UserGroupId" else "ACLNotFoundFault", f"{name} not found")
        members = [user.name for user in self.users.values() if user.group == name]
        if key == "UserGroupId":
            return {"UserGroupId": name, "Status": self.user_groups[name], "UserIds": members, "Engine": "redis"}
        return {"Name": name, "Status": self.user_groups[name], "UserNames": members}

    @staticmethod
    def _user_shape(user: _User) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "Status": user.status, "AccessString": user.access_string, "ARN": user.arn,
            "Authentication": {"Type": "password", "PasswordCount": len(user.passwords)},
        }  # fmt: skip
        return {"UserId": user.user_id, "UserName": user.name, "Engine": "redis", "UserGroupIds": [user.group], **shape}

    def _group(self, params: dict[str, Any]) -> _Group:
        group = self.groups.get(str(params.get("ReplicationGroupId")))
        if group is None:
            raise _Refused("ReplicationGroupNotFoundFault", "Replication group not found")
        return group

    def _describe_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        (primary_host, primary_port), (reader_host, reader_port) = self.nodes(group.servers)
        shape: dict[str, Any] = {
            "ReplicationGroupId": group.group_id,
            "Status": group.status,
            "NodeGroups": [{
                "NodeGroupId": "0001", "Status": group.status,
                "PrimaryEndpoint": {"Address": primary_host, "Port": primary_port},
                "ReaderEndpoint": {"Address": reader_host, "Port": reader_port},
            }],
            "AuthTokenEnabled": bool(group.tokens),
            "TransitEncryptionEnabled": True,
            "ARN": f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:replicationgroup:{group.group_id}",
        }  # fmt: skip
        if group.token_modified is not None:
            shape["AuthTokenLastModifiedDate"] = group.token_modified
        if group.pending_token is not None:
            shape["PendingModifiedValues"] = {"AuthTokenStatus": group.pending_token}
        return {"ReplicationGroups": [shape]}

    def _modify_group(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        if group.status != "available" or group.pending_token is not None:
            raise _Refused("InvalidReplicationGroupState", f"Replication group {group.group_id} is not available")
        token, strategy = str(params.get("AuthToken", "")), str(params.get("AuthTokenUpdateStrategy", ""))
        if not group.tokens or strategy not in ("ROTATE", "SET"):
            raise _Refused("InvalidParameterCombination", "AuthToken needs an AUTH-token group and ROTATE or SET")
        refused = set(string.punctuation) - set(_TOKEN_PUNCTUATION)
        if not 16 <= len(token) <= 128 or not token.isprintable() or any(ch in refused for ch in token):
            raise _Refused("InvalidParameterValue", "Invalid AUTH token")
        if strategy == "SET" and (len(group.tokens) != 2 or token != group.tokens[-1]):
            raise _Refused("InvalidParameterValue", "SET needs two AUTH tokens and the last one")
        tokens = [*group.tokens, token][-2:] if strategy == "ROTATE" else [token]
        if str(params.get("ApplyImmediately", "")).lower() != "true":
            return self._describe_groups(params)  # waits for the maintenance window, which never comes here
        group.status = "modifying"
        group.pending_token = "ROTATING" if strategy == "ROTATE" else "SETTING"

        def apply() -> None:
            group.tokens = tokens
            self._set_user(group.servers, "default", "on ~* &* +@all resetpass", tokens)
            group.token_modified = datetime.now(UTC)
            group.status = "available"
            group.pending_token = None

        if self.token_settles_late:

            def available_first() -> None:
                group.status = "available"
                self._later(group.group_id, apply)

            self._later(group.group_id, available_first)
        else:
            self._later(group.group_id, apply)
        return {"ReplicationGroup": self._describe_groups(params)["ReplicationGroups"][0]}


def _memorydb() -> Any:
    """moto's MemoryDB backend (the moto server runs in this process)."""
    from moto.backends import get_backend

    return get_backend("memorydb")[ACCOUNT_ID][REGION]


def _response(service: str, operation: str, result: dict[str, Any]) -> Answer:
    if service == "memorydb":
        return 200, "application/x-amz-json-1.1", json.dumps(result).encode()
    return query_response("elasticache", operation, result)


def _error(service: str, code: str, message: str) -> Answer:
    if service == "memorydb":
        return 400, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    return query_error(code, message)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
