"""The public keyring in S3: read with its ETag, publish with conditional writes.

Writes use ``If-Match`` (or ``If-None-Match: *`` for the first one), so two
writers can never lose each other's keys: the loser re-reads and retries.
S3 answers a GetObject of a missing object with 403, not 404, when the caller
lacks ``s3:ListBucket``: a 403 is read as "maybe missing" and the first write
stays conditional, so an object that does exist is never overwritten (its
412 then names the missing read permission).
Publishing is idempotent: a key already present with the same material is
left alone; a key with the same ``kid`` and different material is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rotator.errors import ConfigurationError, TargetRejectedError
from rotator.observability import logger
from rotator.schemes.target import AwsApi

if TYPE_CHECKING:
    from rotator.kinds.signing_key.keyring import Keyring, PublishedKey

__all__ = ["KeyringStore"]

_ATTEMPTS = 5
_CONTENT_TYPE = "application/jwk-set+json"


class KeyringStore(AwsApi):
    """One JWKS object: ``s3://bucket/key``."""

    SERVICE = "s3"

    def __init__(
        self, bucket: str, key: str, client: Any = None, *, connect_timeout: float = 5.0,
        read_timeout: float = 10.0, max_attempts: int = 6,
    ) -> None:  # fmt: skip
        super().__init__(None, client)
        self.bucket, self.key = bucket, key
        self.read_denied = False  # the last read was a 403: missing, or existing but unreadable
        self._options = (connect_timeout, read_timeout, max_attempts)

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def what(self) -> str:
        return self.where

    def client(self, *, retries: bool = True) -> Any:
        if self._client is None:
            from rotator.aws.clients import aws_client

            connect, read, attempts = self._options
            self._client = aws_client("s3", connect_timeout=connect, read_timeout=read, max_attempts=attempts)
        return self._client

    def read(self) -> tuple[Keyring | None, str | None]:
        """The keyring and its ETag, or ``(None, None)`` when the object does not exist yet."""
        from rotator.kinds.signing_key.keyring import Keyring

        self.read_denied = False
        try:
            response = self.invoke("GetObject", Bucket=self.bucket, Key=self.key)
        except _Missing:
            return None, None
        except _Denied:
            self.read_denied = True
            return None, None
        return Keyring.from_json(response["Body"].read()), str(response["ETag"])

    def publish(self, *keys: PublishedKey) -> bool:
        """Make sure every key is in the keyring; returns True when the object was written."""
        from rotator.kinds.signing_key.keyring import Keyring

        self._require_conditional_writes()
        for _ in range(_ATTEMPTS):
            keyring, etag = self.read()
            current = keyring or Keyring({})
            changed = current
            for key in keys:
                existing = changed.keys.get(key.kid)
                if existing is None:
                    changed = changed.with_key(key)
                elif not existing.same_material(key):
                    raise TargetRejectedError(
                        f"keyring {self.where} already holds kid {key.kid!r} with different key material"
                    )
            if changed is current:
                return False
            conditions: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.invoke(
                    "PutObject", Bucket=self.bucket, Key=self.key, Body=changed.to_json().encode(),
                    ContentType=_CONTENT_TYPE, **conditions,
                )  # fmt: skip
            except _Conflict:
                if self.read_denied:  # it exists, yet GetObject answered 403: re-reading would not help
                    raise TargetRejectedError(
                        f"keyring {self.where} exists but GetObject is denied (403): grant s3:GetObject on it"
                    ) from None
                logger.info("keyring changed while publishing; re-reading", extra={"keyring": self.where})
                continue
            logger.info("keyring published", extra={"keyring": self.where, "kids": [k.kid for k in keys]})
            return True
        raise TargetRejectedError(f"keyring {self.where} kept changing during {_ATTEMPTS} publish attempts")

    def _require_conditional_writes(self) -> None:
        """Refuse to write with an SDK that would drop If-Match/If-None-Match: a blind write can lose keys.

        The layer relies on the Lambda runtime's boto3; runtimes older than S3's conditional writes (late 2024)
        have a botocore whose PutObject knows neither header.
        """
        shape = self.client().meta.service_model.operation_model("PutObject").input_shape
        members = shape.members if shape is not None else {}
        missing = [name for name in ("IfMatch", "IfNoneMatch") if name not in members]
        if missing:
            import botocore

            raise ConfigurationError(
                f"botocore {botocore.__version__} lacks S3 conditional writes ({', '.join(missing)}): "
                "update the function's runtime, or add a layer with a current boto3, before rotating signing keys"
            )

    def code_error(self, code: str, operation: str) -> Exception:
        if code in ("NoSuchKey", "404") and operation == "GetObject":
            return _Missing()
        if code in ("AccessDenied", "403") and operation == "GetObject":
            return _Denied()
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
            return _Conflict()
        return TargetRejectedError(f"{operation} on {self.where} failed: {code}")


class _Missing(Exception):
    """The keyring object does not exist (yet)."""


class _Denied(Exception):
    """GetObject answered 403: the object is missing and s3:ListBucket is not granted, or reading is denied."""


class _Conflict(Exception):
    """A conditional write lost a race."""
