"""A Redis login as stored: a URL (``redis://app:<pw>@host:6379/0``, ``rediss://`` for TLS, ``redis://:<pw>@host``
for the ``default`` user) or JSON (``host``, ``port``, ``username``, ``password``, ``ssl``, ``db``, optional
``nodes`` and ``adminarn``, and the managed fields; every other field kept)."""

from __future__ import annotations

from dataclasses import dataclass

from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.errors import SecretFormatError
from rotator.kinds.redis.managed_target import ManagedTarget, managed_target
from rotator.kinds.redis.settings import Node, parse_node

__all__ = ["DEFAULT_PORT", "SCHEMES", "RedisSecret"]

SCHEMES = frozenset({"redis", "rediss"})
DEFAULT_PORT = 6379


@dataclass(frozen=True)
class RedisSecret(LoginSecret):
    """A Redis login and where it applies."""

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> RedisSecret:
        """Parse a URL or JSON; a password is required, a missing user means ``default``."""
        connection = ConnectionSecret.parse(text, schemes=SCHEMES, default_port=DEFAULT_PORT, what=what)
        if not connection.password:
            raise SecretFormatError(f"{what} has no password")
        secret = cls(connection)
        secret.nodes  # noqa: B018 - validate the node list and the managed fields now, with a typed error
        secret.managed  # noqa: B018
        return secret

    def __repr__(self) -> str:
        return f"RedisSecret(user={self.username!r}, host={self.host!r}, port={self.port}, tls={self.tls})"

    @property
    def username(self) -> str:
        return self.connection.username or "default"

    @property
    def tls(self) -> bool:
        if self.connection.is_json:
            return str(self.connection.options.get("ssl", "false")).lower() == "true"
        return self.connection.with_credentials().startswith("rediss://")

    @property
    def ca_certs(self) -> str | None:
        return self.connection.options.get("ssl_ca_certs")

    @property
    def admin_arn(self) -> str | None:
        value = self.connection.field("adminarn")
        return value if isinstance(value, str) and value else None

    @property
    def nodes(self) -> tuple[Node, ...]:
        raw = self.connection.field("nodes")
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(node, str) for node in raw):
            raise SecretFormatError("JSON secret field 'nodes' must be a list of 'host:port' strings")
        return tuple(parse_node(node, "JSON secret field 'nodes'") for node in raw)

    @property
    def managed(self) -> ManagedTarget | None:
        """The ElastiCache or MemoryDB user or AUTH token this secret names, or None (a self-managed server)."""
        get = self.connection.field
        return managed_target(
            host=self.host, username=self.username, managed_by=get("managed_by"), user_arn=get("user_arn"),
            user_id=get("user_id"), replication_group_id=get("replication_group_id"),
        )  # fmt: skip

    @property
    def endpoints(self) -> tuple[Node, ...]:
        """The host and every node, in order, host names lower-cased."""
        found: list[Node] = [(self.host.lower(), self.port)]
        found.extend(node for node in self.nodes if node not in found)
        return tuple(found)

    def with_password(self, password: str) -> str:
        return self.connection.with_credentials(password=password)
