"""The password MAC key in KMS: the only code that calls KMS (``GenerateMac``, HMAC-SHA-256).

The key never leaves KMS; the function gets a MAC of a message that names the secret, the version and the
purpose, from which ``rotator.schemes.passwords`` derives the password. AWS KMS API Reference, GenerateMac:
"You can also use the raw result to implement HMAC-based algorithms such as key derivation functions";
AWS KMS Developer Guide, "HMAC keys in AWS KMS": "it is impossible to generate an identical HMAC tag without the
secret key". So setSecret recomputes what createSecret made, and nobody without ``kms:GenerateMac`` on the key
(a key-policy permission) can make a password that passes.
"""

from __future__ import annotations

from typing import Any

from rotator.errors import PasswordKeyError
from rotator.timings import timed

__all__ = ["MAC_ALGORITHM", "MacKey"]

MAC_ALGORITHM = "HMAC_SHA_256"


class MacKey:
    """A KMS HMAC key (``KeySpec`` HMAC_256, ``KeyUsage`` GENERATE_VERIFY_MAC); the client is built on first use."""

    def __init__(self, key_arn: str, client: Any = None) -> None:
        self.key_arn = key_arn
        self._client = client

    def mac(self, message: bytes) -> bytes:
        """``GenerateMac`` of ``message``; PasswordKeyError (code only) when KMS refuses or cannot be reached."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            from rotator.aws.clients import aws_client

            self._client = aws_client("kms", region=self.key_arn.split(":")[3] or None)
        try:
            with timed("kms", "GenerateMac"):
                answer = self._client.generate_mac(KeyId=self.key_arn, Message=message, MacAlgorithm=MAC_ALGORITHM)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            raise PasswordKeyError(f"GenerateMac with {self.key_arn} failed: {code}; nothing was changed") from exc
        except BotoCoreError as exc:
            raise PasswordKeyError(f"GenerateMac with {self.key_arn} failed: {type(exc).__name__}") from exc
        return bytes(answer["Mac"])
