"""The redis kind's configuration: its environment names, read once at cold start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rotator.codecs.text import check_host
from rotator.errors import ConfigurationError, SecretFormatError
from rotator.settings import ENV_PASSWORD_MAC_KEY_ARN, env_arns, env_float, env_int, env_kms_key_arn

__all__ = [
    "ENV_REDIS_ADMIN_SECRET_ARN",
    "ENV_REDIS_ADMIN_SECRET_ARNS",
    "ENV_REDIS_CA_BUNDLE",
    "ENV_REDIS_MANAGED_POLL_SECONDS",
    "ENV_REDIS_MANAGED_WAIT_SECONDS",
    "ENV_REDIS_NODES",
    "ENV_REDIS_TEST_KEY",
    "ENV_REDIS_TIMEOUT",
    "ManagedSettings",
    "Node",
    "RedisSettings",
    "parse_node",
]

ENV_REDIS_ADMIN_SECRET_ARN = "ROTATION_REDIS_ADMIN_SECRET_ARN"
ENV_REDIS_ADMIN_SECRET_ARNS = "ROTATION_REDIS_ADMIN_SECRET_ARNS"
ENV_REDIS_NODES = "ROTATION_REDIS_NODES"
ENV_REDIS_TEST_KEY = "ROTATION_REDIS_TEST_KEY"
ENV_REDIS_CA_BUNDLE = "ROTATION_REDIS_CA_BUNDLE"
ENV_REDIS_TIMEOUT = "ROTATION_REDIS_TIMEOUT"
# ElastiCache and MemoryDB: how long a step waits for a user or replication group to leave ``modifying``.
ENV_REDIS_MANAGED_WAIT_SECONDS = "ROTATION_REDIS_MANAGED_WAIT_SECONDS"
ENV_REDIS_MANAGED_POLL_SECONDS = "ROTATION_REDIS_MANAGED_POLL_SECONDS"

Node = tuple[str, int]


def parse_node(text: str, source: str) -> Node:
    """``host:port`` (an IPv6 host in brackets) as a node, host lower-cased."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SecretFormatError(f"{source} has a node that is not host:port")
    return check_host(host.strip("[]"), what=f"{source} node host").lower(), int(port)


@dataclass(frozen=True)
class ManagedSettings:
    """How long a step waits for a ``modifying`` user or group, and how often it asks."""

    wait: float = 40.0
    poll: float = 2.0


@dataclass(frozen=True)
class RedisSettings:
    """The redis kind's configuration."""

    admin_arn: str | None = None
    allowed_admin_arns: frozenset[str] = frozenset()
    nodes: tuple[Node, ...] = ()
    test_key: str | None = None
    ca_bundle: str | None = None
    timeout: int = 5
    managed: ManagedSettings = field(default_factory=ManagedSettings)
    password_mac_key_arn: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RedisSettings:
        """Read and validate the ``ROTATION_REDIS_*`` variables."""
        raw_nodes = environ.get(ENV_REDIS_NODES, "")
        try:
            nodes = tuple(parse_node(node, ENV_REDIS_NODES) for node in raw_nodes.split(",") if node.strip())
        except SecretFormatError as exc:
            raise ConfigurationError(str(exc)) from None
        return cls(
            admin_arn=environ.get(ENV_REDIS_ADMIN_SECRET_ARN) or None,
            allowed_admin_arns=env_arns(environ, ENV_REDIS_ADMIN_SECRET_ARN, ENV_REDIS_ADMIN_SECRET_ARNS),
            nodes=nodes,
            test_key=environ.get(ENV_REDIS_TEST_KEY) or None,
            ca_bundle=environ.get(ENV_REDIS_CA_BUNDLE) or None,
            timeout=env_int(environ, ENV_REDIS_TIMEOUT, 5, low=1, high=60),
            managed=ManagedSettings(
                wait=env_float(environ, ENV_REDIS_MANAGED_WAIT_SECONDS, 40.0, low=0.0, high=840.0),
                poll=env_float(environ, ENV_REDIS_MANAGED_POLL_SECONDS, 2.0, low=0.05, high=60.0),
            ),
            password_mac_key_arn=env_kms_key_arn(environ, ENV_PASSWORD_MAC_KEY_ARN),
        )
