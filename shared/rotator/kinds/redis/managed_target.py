"""Which ElastiCache or MemoryDB credential a Redis secret names, if any.

These services refuse ``ACL`` and ``CONFIG`` over the Redis protocol: a password changes only through the
service's API. A secret whose host is theirs, or that says ``managed_by``, ``user_arn``, ``user_id`` or
``replication_group_id``, names a managed user (an id in ElastiCache, a name in MemoryDB) or, without one, the
AUTH token of an ElastiCache replication group.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, replace

from rotator.errors import PolicyError, SecretFormatError
from rotator.settings import PasswordPolicy

__all__ = [
    "AUTH_TOKEN_PUNCTUATION",
    "ELASTICACHE",
    "MEMORYDB",
    "PASSWORD_LENGTHS",
    "USER_PASSWORD_REFUSED",
    "ManagedTarget",
    "managed_target",
]

ELASTICACHE = "elasticache"
MEMORYDB = "memorydb"
# ElastiCache AUTH tokens: 16 to 128 printable characters, and no punctuation but these.
AUTH_TOKEN_PUNCTUATION = "!&#$^<>-"
PASSWORD_LENGTHS = (16, 128)
# Never in a managed user's password, whatever ROTATION_EXCLUDE_CHARACTERS says: "The printable characters @, ",
# and / cannot be used in passwords" (ElastiCache User Guide, AUTH token constraints; the ModifyReplicationGroup
# AuthToken adds %), and "," (an assumption, reported by users of ModifyUser; no AWS sentence found).
USER_PASSWORD_REFUSED = ',"/@'

_USER_ARNS = {
    ELASTICACHE: re.compile(r"arn:aws[a-z-]*:elasticache:([a-z0-9-]+):\d{12}:user:([a-zA-Z][a-zA-Z0-9-]*)"),
    MEMORYDB: re.compile(r"arn:aws[a-z-]*:memorydb:([a-z0-9-]+):\d{12}:user/([a-zA-Z][a-zA-Z0-9-]*)"),
}
_HOSTS = {
    ELASTICACHE: re.compile(r".+\.cache\.amazonaws\.com(\.cn)?"),
    MEMORYDB: re.compile(r".+\.memorydb\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"),
}
_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")


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
        """``policy`` within what the service accepts (length; a user's refused characters; an AUTH token's few
        punctuation characters)."""
        low, high = PASSWORD_LENGTHS
        if not low <= policy.length <= high:
            raise PolicyError(f"{self.what} takes passwords of {low} to {high} characters: set the length within")
        if self.user is not None:
            missing = "".join(ch for ch in USER_PASSWORD_REFUSED if ch not in policy.exclude_characters)
            return replace(policy, exclude_characters=policy.exclude_characters + missing)
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
