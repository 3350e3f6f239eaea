"""Verify signatures with any key of the published signing keyring (the JWKS document in S3).

::

    keyring = PublishedKeyring("amply-prod-keyring", "checkpoint-signing-key/jwks.json")
    keyring.verify(kid, payload, signature, signed_at=checkpoint_time)

The document is read once per ``ttl``; a ``kid`` it does not hold (a key published since, signing already) makes
it read the document again, at most once per ``refresh_interval``, before ``UnknownKeyError`` is raised. The
verifier is the suite's own (``rotator.kinds.signing_key.keyring``, from the ``secret-rotation[signing_key]``
package of this repository): the same code that tests every new key before it signs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rotation_client.errors import RotationClientError, SecretUnavailableError

if TYPE_CHECKING:
    from rotator.kinds.signing_key.keyring import Keyring, PublishedKey

__all__ = ["PublishedKeyring"]


class PublishedKeyring:
    """``s3://bucket/key``, kept ``ttl`` seconds, read again for a ``kid`` it does not hold."""

    def __init__(
        self, bucket: str, key: str, *, client: Any = None, ttl: float = 300.0, refresh_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.bucket, self.key = bucket, key
        self._client = client
        self.ttl, self.refresh_interval, self._clock = ttl, refresh_interval, clock
        self._keyring: Keyring | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self.reads = 0

    def verify(self, kid: str, data: bytes, signature: bytes, *, signed_at: datetime) -> PublishedKey:
        """The published key that verified the signature; the verifier's typed errors otherwise."""
        try:
            from rotator.kinds.signing_key.keyring import UnknownKeyError
        except ImportError:
            raise RotationClientError(
                "verifying needs the suite's keyring verifier: "
                "install secret-rotation[signing_key] from this repository"
            ) from None
        keyring = self._current(stale=False)
        if kid not in keyring:
            keyring = self._current(stale=True)
        if kid not in keyring:
            raise UnknownKeyError(f"keyring s3://{self.bucket}/{self.key} holds no key {kid!r}")
        return keyring.verify(kid, data, signature, signed_at=signed_at)

    def _current(self, *, stale: bool) -> Keyring:
        """The cached document; read again when older than ``ttl``, or when ``stale`` and ``refresh_interval`` has
        passed since the last read."""
        with self._lock:
            age = self._clock() - self._read_at
            if self._keyring is None or age >= self.ttl or (stale and age >= self.refresh_interval):
                self._keyring = self._read()
                self._read_at = self._clock()
            return self._keyring

    def _read(self) -> Keyring:
        from botocore.exceptions import BotoCoreError, ClientError

        from rotator.kinds.signing_key.keyring import Keyring

        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        self.reads += 1
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            raise SecretUnavailableError(f"cannot read the keyring s3://{self.bucket}/{self.key}: {code}") from None
        except BotoCoreError as exc:
            raise SecretUnavailableError(
                f"cannot read the keyring s3://{self.bucket}/{self.key}: {type(exc).__name__}"
            ) from None
        return Keyring.from_json(body)
