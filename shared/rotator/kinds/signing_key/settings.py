"""The signing_key kind's configuration: the keyring's location and the key policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from rotator.codecs.algorithms import Algorithm
from rotator.errors import ConfigurationError
from rotator.settings import env_int

__all__ = [
    "ENV_KEYRING_BUCKET",
    "ENV_KEYRING_KEY",
    "ENV_SIGNING_ALGORITHM",
    "ENV_SIGNING_GRACE_DAYS",
    "ENV_SIGNING_RSA_BITS",
    "ENV_SIGNING_VALIDITY_DAYS",
    "SigningKeySettings",
]

ENV_KEYRING_BUCKET = "ROTATION_KEYRING_BUCKET"
ENV_KEYRING_KEY = "ROTATION_KEYRING_KEY"
ENV_SIGNING_ALGORITHM = "ROTATION_SIGNING_ALGORITHM"
ENV_SIGNING_RSA_BITS = "ROTATION_SIGNING_RSA_BITS"
ENV_SIGNING_VALIDITY_DAYS = "ROTATION_SIGNING_VALIDITY_DAYS"
ENV_SIGNING_GRACE_DAYS = "ROTATION_SIGNING_GRACE_DAYS"


@dataclass(frozen=True)
class SigningKeySettings:
    """The signing_key kind's configuration."""

    bucket: str
    key: str
    algorithm: Algorithm | None = None
    rsa_bits: int = 3072
    validity: timedelta = timedelta(days=365)
    grace: timedelta = timedelta(days=30)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SigningKeySettings:
        """Read and validate the keyring location and key policy."""
        bucket, key = environ.get(ENV_KEYRING_BUCKET, ""), environ.get(ENV_KEYRING_KEY, "")
        if not bucket or not key:
            raise ConfigurationError(f"{ENV_KEYRING_BUCKET} and {ENV_KEYRING_KEY} must name the keyring object")
        raw_alg = environ.get(ENV_SIGNING_ALGORITHM) or None
        try:
            algorithm = Algorithm(raw_alg) if raw_alg else None
        except ValueError:
            names = ", ".join(a.value for a in Algorithm)
            raise ConfigurationError(f"{ENV_SIGNING_ALGORITHM} must be one of {names}") from None
        return cls(
            bucket=bucket,
            key=key,
            algorithm=algorithm,
            rsa_bits=env_int(environ, ENV_SIGNING_RSA_BITS, 3072, low=2048, high=8192),
            validity=timedelta(days=env_int(environ, ENV_SIGNING_VALIDITY_DAYS, 365, low=1, high=3650)),
            grace=timedelta(days=env_int(environ, ENV_SIGNING_GRACE_DAYS, 30, low=0, high=365)),
        )
