"""The session_secret kind's configuration: how many old keys a JSON keyring keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotator.settings import env_int

__all__ = ["ENV_RETAINED_KEYS", "SessionSecretSettings"]

ENV_RETAINED_KEYS = "ROTATION_RETAINED_KEYS"


@dataclass(frozen=True)
class SessionSecretSettings:
    """The session_secret kind's configuration."""

    retained_keys: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SessionSecretSettings:
        """Read and validate ``ROTATION_RETAINED_KEYS``."""
        return cls(retained_keys=env_int(environ, ENV_RETAINED_KEYS, 1, low=0, high=50))
