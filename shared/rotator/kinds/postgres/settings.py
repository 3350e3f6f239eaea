"""The postgres kind's configuration: its environment names, read once at cold start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotator.errors import ConfigurationError
from rotator.settings import ENV_PASSWORD_MAC_KEY_ARN, ca_bundle, env_arns, env_bool, env_int, env_kms_key_arn

__all__ = [
    "ENV_POSTGRES_ALLOW_MD5",
    "ENV_POSTGRES_ALLOW_UNVERIFIED_TLS",
    "ENV_POSTGRES_CLONE_SUFFIX",
    "ENV_POSTGRES_CONNECT_TIMEOUT",
    "ENV_POSTGRES_MASTER_SECRET_ARN",
    "ENV_POSTGRES_MASTER_SECRET_ARNS",
    "ENV_POSTGRES_REPLICA_WAIT_SECONDS",
    "ENV_POSTGRES_SSLMODE",
    "ENV_POSTGRES_SSLROOTCERT",
    "ENV_POSTGRES_STATEMENT_TIMEOUT_MS",
    "SSLMODES",
    "PostgresSettings",
]

ENV_POSTGRES_MASTER_SECRET_ARN = "ROTATION_POSTGRES_MASTER_SECRET_ARN"
ENV_POSTGRES_MASTER_SECRET_ARNS = "ROTATION_POSTGRES_MASTER_SECRET_ARNS"
ENV_POSTGRES_ALLOW_UNVERIFIED_TLS = "ROTATION_POSTGRES_ALLOW_UNVERIFIED_TLS"
ENV_POSTGRES_ALLOW_MD5 = "ROTATION_POSTGRES_ALLOW_MD5"
ENV_POSTGRES_CLONE_SUFFIX = "ROTATION_POSTGRES_CLONE_SUFFIX"
ENV_POSTGRES_SSLMODE = "ROTATION_POSTGRES_SSLMODE"
ENV_POSTGRES_SSLROOTCERT = "ROTATION_POSTGRES_SSLROOTCERT"
ENV_POSTGRES_CONNECT_TIMEOUT = "ROTATION_POSTGRES_CONNECT_TIMEOUT"
ENV_POSTGRES_STATEMENT_TIMEOUT_MS = "ROTATION_POSTGRES_STATEMENT_TIMEOUT_MS"
# A secret on a read replica: how long setSecret and testSecret wait for the replica to replay the change.
ENV_POSTGRES_REPLICA_WAIT_SECONDS = "ROTATION_POSTGRES_REPLICA_WAIT_SECONDS"

SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


@dataclass(frozen=True)
class PostgresSettings:
    """The postgres kind's configuration."""

    master_arn: str | None = None
    allowed_master_arns: frozenset[str] = frozenset()
    clone_suffix: str = "_clone"
    sslmode: str = "verify-full"
    sslrootcert: str = ""
    allow_unverified_tls: bool = False
    allow_md5: bool = False
    connect_timeout: int = 5
    statement_timeout_ms: int = 10_000
    replica_wait_seconds: int = 20
    password_mac_key_arn: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PostgresSettings:
        """Read and validate the ``ROTATION_POSTGRES_*`` variables."""
        sslmode = environ.get(ENV_POSTGRES_SSLMODE) or "verify-full"
        if sslmode not in SSLMODES:
            raise ConfigurationError(f"{ENV_POSTGRES_SSLMODE} must be one of {', '.join(sorted(SSLMODES))}")
        suffix = environ.get(ENV_POSTGRES_CLONE_SUFFIX) or "_clone"
        if not suffix.replace("_", "").isalnum():
            raise ConfigurationError(f"{ENV_POSTGRES_CLONE_SUFFIX} must be letters, digits and underscores")
        return cls(
            master_arn=environ.get(ENV_POSTGRES_MASTER_SECRET_ARN) or None,
            allowed_master_arns=env_arns(environ, ENV_POSTGRES_MASTER_SECRET_ARN, ENV_POSTGRES_MASTER_SECRET_ARNS),
            clone_suffix=suffix,
            sslmode=sslmode,
            sslrootcert=ca_bundle(environ.get(ENV_POSTGRES_SSLROOTCERT)),
            allow_unverified_tls=env_bool(environ, ENV_POSTGRES_ALLOW_UNVERIFIED_TLS, False),
            allow_md5=env_bool(environ, ENV_POSTGRES_ALLOW_MD5, False),
            connect_timeout=env_int(environ, ENV_POSTGRES_CONNECT_TIMEOUT, 5, low=1, high=60),
            statement_timeout_ms=env_int(environ, ENV_POSTGRES_STATEMENT_TIMEOUT_MS, 10_000, low=100, high=120_000),
            replica_wait_seconds=env_int(environ, ENV_POSTGRES_REPLICA_WAIT_SECONDS, 20, low=1, high=50),
            password_mac_key_arn=env_kms_key_arn(environ, ENV_PASSWORD_MAC_KEY_ARN),
        )
