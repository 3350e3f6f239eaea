"""Configuration read once, at cold start, from the environment into frozen objects.

The names every function reads are here; the consumer feature and each kind keep theirs in their own
``settings`` module, read by the same helpers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rotator.errors import ConfigurationError

__all__ = [
    "CA_BUNDLE_CANDIDATES",
    "DEFAULT_EXCLUDE_CHARACTERS",
    "DEFAULT_METRICS_NAMESPACE",
    "DEFAULT_SERVICE_NAME",
    "ENV_ENDPOINT_URL",
    "ENV_EXCLUDE_CHARACTERS",
    "ENV_METRICS_NAMESPACE",
    "ENV_PASSWORD_LENGTH",
    "ENV_PASSWORD_MAC_KEY_ARN",
    "ENV_REQUIRE_EACH_TYPE",
    "ENV_SECRET_PREFIX",
    "ENV_SERVICE_NAME",
    "ENV_SM_CONNECT_TIMEOUT",
    "ENV_SM_MAX_ATTEMPTS",
    "ENV_SM_READ_TIMEOUT",
    "PasswordPolicy",
    "Settings",
    "ca_bundle",
    "env_arns",
    "env_bool",
    "env_float",
    "env_int",
    "env_kms_key_arn",
    "permitted_arn",
]

# AWS clients (Secrets Manager, S3, ...): an endpoint other than AWS's, for the sandbox and `sam local invoke`.
ENV_ENDPOINT_URL = "ROTATION_ENDPOINT_URL"
# Secrets Manager client.
ENV_SM_CONNECT_TIMEOUT = "ROTATION_SM_CONNECT_TIMEOUT"
ENV_SM_READ_TIMEOUT = "ROTATION_SM_READ_TIMEOUT"
ENV_SM_MAX_ATTEMPTS = "ROTATION_SM_MAX_ATTEMPTS"
# Password generation policy.
ENV_PASSWORD_LENGTH = "ROTATION_PASSWORD_LENGTH"
ENV_EXCLUDE_CHARACTERS = "ROTATION_EXCLUDE_CHARACTERS"
ENV_REQUIRE_EACH_TYPE = "ROTATION_REQUIRE_EACH_TYPE"
# A KMS HMAC key (HMAC_256): passwords are derived from GenerateMac, so setSecret applies only those it made.
# Read by the kinds whose passwords reach a target (postgres, redis), in their settings.
ENV_PASSWORD_MAC_KEY_ARN = "ROTATION_PASSWORD_MAC_KEY_ARN"
# The freshness check: the stack's secrets (``<app>/<env>/``), each with a rotation function, must rotate in time.
ENV_SECRET_PREFIX = "ROTATION_SECRET_PREFIX"
# Observability (names owned by Powertools; listed so the defaults live in one place).
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_SERVICE_NAME = "secret-rotation"
DEFAULT_METRICS_NAMESPACE = "SecretRotation"

# Characters that need quoting in a URL userinfo, an SQL literal or a shell word.
# Excluding them keeps generated passwords safe to paste anywhere.
DEFAULT_EXCLUDE_CHARACTERS = "\"'`\\/@:?#[]{}()<>|&;$%^*+=,!~ "


def env_int(environ: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """Read an integer setting, refusing values outside ``[low, high]``."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def env_float(environ: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    """Read a float setting, refusing values outside ``[low, high]``."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a boolean setting (true/false, 1/0, yes/no)."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false")


def env_arns(environ: Mapping[str, str], *names: str) -> frozenset[str]:
    """Every secret ARN named by these settings (each may hold a comma-separated list)."""
    return frozenset(arn.strip() for name in names for arn in environ.get(name, "").split(",") if arn.strip())


# The runtime's CA bundle, as AWS's own rotation functions use it on Lambda (Amazon Linux: /etc/pki), then
# the usual Debian/Alpine and macOS places. libpq's "system" would mean the CA directory compiled into the
# bundled OpenSSL of psycopg-binary, which does not exist on Lambda.
CA_BUNDLE_CANDIDATES = ("/etc/pki/tls/cert.pem", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem")


def permitted_arn(
    named: str | None,
    configured: str | None,
    allowed: frozenset[str],
    *,
    field: str,
    role: str,
    variable: str,
    parameter: str,
) -> str | None:
    """The privileged secret to log in with: the one a secret names, only if ``allowed`` lists it (else a
    ConfigurationError says where to add it), or the ``configured`` default when it names none."""
    if named is None:
        return configured
    if named not in allowed:
        raise ConfigurationError(
            f"the secret's {field} is not {role} this function may use: add it to {variable} "
            f"(template parameter {parameter})"
        )
    return named


def ca_bundle(configured: str | None, *, exists: Callable[[str], bool] = os.path.isfile) -> str:
    """The CA bundle file to verify servers with: ``configured`` (a path, or the PEM text itself, which is
    written once to a private temporary file), else the first system bundle that exists."""
    if configured and configured.lstrip().startswith("-----BEGIN CERTIFICATE-----"):
        return _pem_file(configured.strip() + "\n")
    if configured and configured != "system":
        return configured
    return next((path for path in CA_BUNDLE_CANDIDATES if exists(path)), CA_BUNDLE_CANDIDATES[0])


def _pem_file(pem: str) -> str:
    """A file holding ``pem`` (public CA certificates), named by its digest so each cold start writes it once."""
    import hashlib
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"rotation-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem")
    if not os.path.isfile(path):
        descriptor, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".partial")
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(pem)
        os.replace(partial, path)
    return path


@dataclass(frozen=True)
class PasswordPolicy:
    """How generated passwords look."""

    length: int = 32
    exclude_characters: str = DEFAULT_EXCLUDE_CHARACTERS
    require_each_type: bool = True


@dataclass(frozen=True)
class Settings:
    """Settings shared by every kind. Kinds read their own extras from ``environ``."""

    sm_connect_timeout: float = 5.0
    sm_read_timeout: float = 10.0
    sm_max_attempts: int = 6
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: ``os.environ``), validating every value."""
        source = os.environ if environ is None else environ
        # The template declares every variable (so `sam local invoke --env-vars` can set it); empty means default.
        env = {k: v for k, v in source.items() if not (k.startswith("ROTATION_") and not v.strip())}
        policy = PasswordPolicy(
            length=env_int(env, ENV_PASSWORD_LENGTH, 32, low=12, high=4096),
            exclude_characters=env.get(ENV_EXCLUDE_CHARACTERS, DEFAULT_EXCLUDE_CHARACTERS),
            require_each_type=env_bool(env, ENV_REQUIRE_EACH_TYPE, True),
        )
        return cls(
            sm_connect_timeout=env_float(env, ENV_SM_CONNECT_TIMEOUT, 5.0, low=0.1, high=60),
            sm_read_timeout=env_float(env, ENV_SM_READ_TIMEOUT, 10.0, low=0.1, high=120),
            sm_max_attempts=env_int(env, ENV_SM_MAX_ATTEMPTS, 6, low=1, high=20),
            password_policy=policy,
            environ=env,
        )


def env_kms_key_arn(environ: Mapping[str, str], name: str) -> str | None:
    """A KMS key ARN setting (``arn:<partition>:kms:<region>:<account>:key/<id>``), or None when unset."""
    value = environ.get(name)
    if not value:
        return None
    parts = value.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[5].startswith("key/"):
        raise ConfigurationError(f"{name} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
    return value
