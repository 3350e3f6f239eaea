"""Initial values for sandbox secrets, generated fresh on every run (nothing secret is stored in the repo)."""

from __future__ import annotations

import base64
import json
import secrets

__all__ = ["seed_value"]


def seed_value(kind: str) -> str:
    """A realistic starting value for a secret of ``kind``."""
    if kind == "session_secret":
        return base64.b64encode(secrets.token_bytes(32)).decode()
    raise ValueError(f"no sandbox seed for kind {kind!r}")


def seed_keyring() -> str:
    """A JSON keyring as ``api-encryption-key`` holds it."""
    return json.dumps({"current": secrets.token_hex(32), "previous": [], "cipher": "AES-256-GCM"})
