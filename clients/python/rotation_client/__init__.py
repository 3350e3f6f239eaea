"""Read rotated secrets through boto3 with a TTL cache, and never show a rotation to the application.

``SecretCache`` keeps each secret's AWSCURRENT for a TTL. The adapters use each library's own extension point
and, when the target refuses a cached credential, refresh once (AWSCURRENT, then AWSPENDING while a rotation is
in progress) and retry: ``for_sqlalchemy`` (the ``do_connect`` event; asyncpg and psycopg), ``for_redis``
(redis-py's ``CredentialProvider`` and ``Retry``), ``for_stripe`` (the API key of ``stripe.StripeClient``),
``for_keyring`` (verify with any published signing key). No secret value is ever logged or put in an error.
"""

from rotation_client.cache import CacheStats, SecretCache
from rotation_client.errors import (
    CredentialsRejectedError,
    RotationClientError,
    SecretFormatError,
    SecretUnavailableError,
)

__all__ = [
    "CacheStats",
    "CredentialsRejectedError",
    "RotationClientError",
    "SecretCache",
    "SecretFormatError",
    "SecretUnavailableError",
]
